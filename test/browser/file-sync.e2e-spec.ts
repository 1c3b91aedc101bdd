import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { waitFor } from '@chorus/testing';
import { createSession, inviteLink, sessionReady, signIn } from './support/app';
import { OUTPUT_DIR } from './support/web-build';
import { appCluster } from './support/app-cluster';

// Issue #15 in the browser app (docs/file-sync.md, "In the browser app"): Alice's tab, on gateway 1, shares a
// small in-browser project (two typed files and an uploaded binary) as the session's file host; Bob's tab, on
// gateway 2, holds a copy where one file differs, one is missing and one is extra. "Fetch manifest" shows the
// host's manifest and the diff (added / changed / deleted), the changed text side by side; rejecting leaves
// Bob's copy as it was; accepting one file, then all, downloads through the SDK (verified) until Bob's copy is
// Alice's, sha256 for sha256 as each page computes it, and it is still there after a reload (IndexedDB). Real
// Chromium, two gateway processes, the real Postgres and Redis. A path rule that hides a file from Bob: the panel
// says "1 file(s) withheld by rules" and the manifest shown leaves it out.

const app = appCluster('browser_filesync');

type Debug = Record<string, () => unknown>;

/** This page's copy: path → sha256, recomputed from the bytes in the page (WebCrypto). */
const hashesIn = (page: Page) => page.evaluate(() => (globalThis as unknown as { chorusDebug: Debug }).chorusDebug.projectHashes()) as Promise<Record<string, string> | null>;
const diffIn = (page: Page) => page.evaluate(() => (globalThis as unknown as { chorusDebug: Debug }).chorusDebug.projectDiff()) as Promise<{ add: string[]; update: string[]; delete: string[]; unchanged: string[] } | null>;
const errorsIn = (page: Page) => page.evaluate(() => (globalThis as unknown as { chorusDebug: Debug }).chorusDebug.projectErrors()) as Promise<number>;

const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Waits until this page's copy has exactly `paths` (opened from IndexedDB, or written by the form). */
async function copyHas(page: Page, paths: string[]): Promise<Record<string, string>> {
  return waitFor(`the copy to hold ${paths.join(', ')}`, async () => {
    const hashes = await hashesIn(page);
    return hashes && Object.keys(hashes).join('\n') === [...paths].sort().join('\n') ? hashes : undefined;
  }, { timeoutMs: 20_000, intervalMs: 50 });
}

/** Types a file into the panel's form. */
async function addFile(page: Page, path: string, text: string): Promise<void> {
  await page.getByTestId('project-path').fill(path);
  await page.getByTestId('project-text').fill(text);
  await page.getByTestId('project-form').locator('button[type=submit]').click();
  await page.locator(`[data-testid=local-files] li[data-path="${path}"][data-hash="${sha256(text)}"]`).waitFor({ timeout: 10_000 });
}

async function fetchManifest(page: Page): Promise<void> {
  // The click marks the panel busy at once; the diff (a list, empty when up to date) is there when it is not.
  await page.getByTestId('fetch-manifest').click();
  await page.locator('[data-testid=project-files][data-busy=false]').waitFor({ timeout: 20_000 });
  await page.getByTestId('sync-diff').waitFor({ state: 'attached', timeout: 5_000 });
}

it('shows the host manifest and the diff, the changed text side by side; reject keeps the copy, accept makes it the host\'s', async () => {
  const [g1, g2] = app.cluster.gateways;
  const alice = await app.person();
  const bob = await app.person();
  await signIn(alice.page, g1, [g1, g2], 'Alice hosts');
  const sessionId = await createSession(alice.page, 'browser file sync');
  const link = await inviteLink(alice.page);
  await signIn(bob.page, link.replace(g1, g2), [g2, g1], 'Bob pulls');
  await sessionReady(bob.page);

  // Alice's project: two typed text files and an uploaded binary (a PNG header, NUL bytes and all).
  const readme = '# Demo\n\nA small project.\n';
  const hostMain = 'export const answer = 42;\nexport const question = "?";\n';
  const logo = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256))]);
  await addFile(alice.page, 'README.md', readme);
  await addFile(alice.page, 'src/main.ts', hostMain);
  await alice.page.getByTestId('project-upload').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: logo });
  const host = await copyHas(alice.page, ['README.md', 'logo.png', 'src/main.ts']);
  expect(host).toEqual({ 'README.md': sha256(readme), 'logo.png': sha256(logo), 'src/main.ts': sha256(hostMain) });
  await alice.page.getByTestId('share-project').click();
  await alice.page.locator('[data-testid=share-state]', { hasText: 'you share 3 file(s)' }).waitFor({ timeout: 20_000 });
  // Bob hears who hosts (the file_host push, across gateways).
  await bob.page.locator('[data-testid=share-state]', { hasText: 'shared by Alice hosts' }).waitFor({ timeout: 20_000 });

  // Bob's copy: the README as the host has it, main.ts otherwise, no logo, and notes of his own.
  const guestMain = 'export const answer = 41;\n';
  await addFile(bob.page, 'README.md', readme);
  await addFile(bob.page, 'src/main.ts', guestMain);
  await addFile(bob.page, 'notes.txt', 'only on my side\n');
  const before = await copyHas(bob.page, ['README.md', 'notes.txt', 'src/main.ts']);

  await fetchManifest(bob.page);
  expect(await bob.page.locator('[data-testid=host-manifest] tr[data-path]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path')))).toEqual(['README.md', 'logo.png', 'src/main.ts']);
  expect(await diffIn(bob.page)).toMatchObject({ add: ['logo.png'], update: ['src/main.ts'], delete: ['notes.txt'], unchanged: ['README.md'] });
  const diff = bob.page.getByTestId('sync-diff');
  // The changed text side by side: Bob's copy and the host's bytes.
  const changed = diff.locator('li[data-change=update][data-path="src/main.ts"]');
  expect(await changed.getAttribute('data-view')).toBe('side-by-side');
  expect(await changed.getByTestId('diff-local').textContent()).toBe(guestMain);
  expect(await changed.getByTestId('diff-host').textContent()).toBe(hostMain);
  // The binary: sizes and hashes only.
  const added = diff.locator('li[data-change=add][data-path="logo.png"]');
  expect(await added.getAttribute('data-view')).toBe('sizes');
  expect(await added.getByTestId('diff-host').count()).toBe(0);
  expect(await added.textContent()).toContain(`host: ${(logo.length / 1024).toFixed(1)} KiB ${sha256(logo).slice(0, 12)}`);
  expect(await diff.locator('li[data-change=delete][data-path="notes.txt"]').textContent()).toContain('this copy: 16 B');
  mkdirSync(OUTPUT_DIR, { recursive: true });
  await bob.page.screenshot({ path: join(OUTPUT_DIR, 'file-sync-diff.png'), fullPage: true });

  // Reject: nothing changes.
  await bob.page.getByTestId('reject-all').click();
  await diff.waitFor({ state: 'detached', timeout: 10_000 });
  expect(await hashesIn(bob.page)).toEqual(before);

  // Accept one file: only it changes, the rest of the diff waits.
  await fetchManifest(bob.page);
  await diff.locator('li[data-path="src/main.ts"]').getByTestId('accept-file').click();
  await diff.locator('li[data-path="src/main.ts"]').waitFor({ state: 'detached', timeout: 20_000 });
  expect(await hashesIn(bob.page)).toEqual({ ...before, 'src/main.ts': host['src/main.ts'] });
  expect(await diffIn(bob.page)).toMatchObject({ add: ['logo.png'], update: [], delete: ['notes.txt'] });

  // Accept all: the logo is downloaded (progress to the last byte), the extra file goes; the copy is the host's.
  await bob.page.getByTestId('accept-all').click();
  await diff.waitFor({ state: 'detached', timeout: 20_000 });
  expect(await hashesIn(bob.page)).toEqual(host);
  const progress = bob.page.getByTestId('sync-progress');
  expect(await progress.getAttribute('data-bytes')).toBe(String(logo.length));
  expect(await progress.getAttribute('data-total-bytes')).toBe(String(logo.length));
  await bob.page.locator('[data-testid=sync-status]', { hasText: 'up to date with the host' }).waitFor({ timeout: 5_000 });

  // A new fetch finds nothing to do, and the copy survives a reload (IndexedDB).
  await fetchManifest(bob.page);
  expect(await diffIn(bob.page)).toMatchObject({ add: [], update: [], delete: [], unchanged: ['README.md', 'logo.png', 'src/main.ts'] });
  await bob.page.reload();
  await sessionReady(bob.page);
  expect(await copyHas(bob.page, Object.keys(host))).toEqual(host);
  await bob.page.locator('[data-testid=share-state]', { hasText: 'shared by Alice hosts' }).waitFor({ timeout: 20_000 });
  await alice.page.screenshot({ path: join(OUTPUT_DIR, 'file-sync-host.png'), fullPage: true });
  expect(await errorsIn(alice.page)).toBe(0);
  expect(await errorsIn(bob.page)).toBe(0);

  // A path rule hides logo.png from Bob (issue #19): his next manifest leaves it out and the panel says so (a
  // count, no name). The rule reaches the host's gateway with the durable event: fetch until it is in force.
  const auth = (page: Page) => page.evaluate(() => JSON.parse((globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('chorus.auth') ?? '{}') as { token: string; userId: string });
  const [aliceAuth, bobAuth] = [await auth(alice.page), await auth(bob.page)];
  const rules = { rules: [{ name: 'logo-hidden-from-bob', pattern: 'logo.png', user_id: bobAuth.userId, access: 'none' }] };
  const put = await fetch(`${g1}/api/v1/collaboration/sessions/${sessionId}/file-rules`, { method: 'PUT', headers: { authorization: `Bearer ${aliceAuth.token}`, 'content-type': 'application/json' }, body: JSON.stringify(rules) });
  expect(put.status).toBe(200);
  await waitFor('the manifest without logo.png', async () => {
    await fetchManifest(bob.page);
    return (await bob.page.getByTestId('withheld').count()) > 0;
  }, { timeoutMs: 20_000 });
  expect(await bob.page.getByTestId('withheld').textContent()).toBe('1 file(s) withheld by rules');
  expect(await bob.page.locator('[data-testid=host-manifest] tr[data-path]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path')))).toEqual(['README.md', 'src/main.ts']);
  await bob.page.getByTestId('reject-all').click();
  await bob.page.getByTestId('sync-diff').waitFor({ state: 'detached', timeout: 10_000 });

  // Alice stops sharing: Bob hears nobody hosts, and a fetch is the typed PEER_DISCONNECTED, shown; his copy stays.
  await alice.page.getByTestId('share-project').click();
  await alice.page.locator('[data-testid=share-project][data-sharing=false]').waitFor({ timeout: 20_000 });
  await bob.page.locator('[data-testid=share-state][data-host=""]').waitFor({ state: 'attached', timeout: 20_000 });
  await bob.page.getByTestId('fetch-manifest').click();
  await bob.page.locator('[data-testid=sync-status]', { hasText: 'fetch manifest failed (PEER_DISCONNECTED)' }).waitFor({ timeout: 20_000 });
  expect(await bob.page.getByTestId('notice').textContent()).toMatch(/^fetch manifest: PEER_DISCONNECTED: /);
  expect(await errorsIn(bob.page)).toBe(1);
  expect(await hashesIn(bob.page)).toEqual(host);
}, 240_000);
