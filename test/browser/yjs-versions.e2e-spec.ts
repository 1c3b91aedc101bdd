import { join } from 'node:path';
import type { Page } from 'playwright-core';
import * as Y from 'yjs';
import { ChorusClient } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { waitFor } from '@chorus/testing';
import { createSession, inviteLink, sessionReady, signIn } from './support/app';
import { appCluster } from './support/app-cluster';
import { OUTPUT_DIR } from './support/web-build';

// The versions panel of a Yjs document in the browser app (apps/web/src/yjs-versions-panel.ts, over the SDK's
// `provider.versions`) in real Chromium against two gateway processes: Alice (gateway 0) types, saves a labelled
// version, types on and saves again — Bob's panel (gateway 1) lists the new version without Refresh
// (`yjs_version_saved`) — previews the first version's text and restores it after the confirmation; Bob's tab
// shows the restored text live in its editor, and his panel hears of the restore (`yjs_version_restored`) and says
// who restored what. A viewer's tab lists and previews versions, without save or restore; after 51 more saves (an
// SDK client of Alice's) it lists the newest 50 live and "Load more" brings the rest. A screenshot of Alice's panel
// goes to test-output/browser.

const FILE = 'notes/versions.md';
// Every page error or console error of a tab fails the test (the harness checks after each).
const app = appCluster('browser_yjs_versions');

interface Shown {
  kind: string | null;
  editorText: string | null;
  yjsText: string | null;
  yjsSynced: boolean | null;
  errors: number;
  panel: {
    versions: Array<{ version: number; label: string | null; author: string | null; reason: string }>;
    preview: { version: number; text: string | null } | null;
    confirming: number | null;
    status: string;
    canEdit: boolean;
    more: boolean;
  } | null;
}

function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const d = (globalThis as unknown as { chorusDebug: Record<string, () => unknown> }).chorusDebug;
    return { kind: d.kind(), editorText: d.editorText(), yjsText: d.yjsText(), yjsSynced: d.yjsSynced(), errors: d.yjsVersionErrors(), panel: d.yjsVersions() } as Shown;
  });
}

async function waitShown(page: Page, description: string, check: (s: Shown) => boolean, timeoutMs = 20_000): Promise<Shown> {
  let last: Shown | null = null;
  return waitFor(
    description,
    async () => {
      last = await shown(page);
      return check(last) ? last : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last state: ${JSON.stringify(last)}`);
  });
}

/** The editor and the Y.Text agree on `text`. */
const showsText = (s: Shown, text: string) => s.kind === 'yjs' && s.editorText === text && s.yjsText === text;

it('an editor saves a version, types, previews and restores it; the other tab on another gateway shows the restored text live', async () => {
  const [gw0, gw1] = app.cluster.gateways;
  const alice = await app.person();
  const bob = await app.person();
  await signIn(alice.page, gw0, [gw0], 'Alice');
  const sessionId = await createSession(alice.page, 'yjs versions in the browser');
  const link = await inviteLink(alice.page);

  // Alice creates the Yjs document: the versions panel comes with its editor, empty.
  await alice.page.getByTestId('file-input').fill(FILE);
  await alice.page.getByTestId('file-kind').selectOption('yjs');
  await alice.page.getByTestId('file-input').press('Enter');
  await waitShown(alice.page, 'Alice in the Yjs editor with its versions panel', (s) => showsText(s, '') && s.yjsSynced === true && s.panel !== null && s.panel.versions.length === 0);

  // She types, and saves the text as a labelled version.
  await alice.page.locator('.cm-content').click();
  await alice.page.keyboard.type('The first draft.');
  await waitShown(alice.page, 'the first draft typed', (s) => showsText(s, 'The first draft.'));
  await alice.page.getByTestId('yjs-version-label').fill('first draft');
  await alice.page.getByTestId('yjs-version-save').click();
  const saved = await waitShown(alice.page, 'version 1 listed', (s) => s.panel?.versions.length === 1);
  expect(saved.panel?.versions[0]).toMatchObject({ version: 1, label: 'first draft', author: expect.stringMatching(/.+/), reason: 'saved' });
  expect(saved.panel?.status).toBe('saved version 1');
  expect(await alice.page.locator('[data-testid="yjs-version-list"] li[data-version="1"] time').count()).toBe(1);

  // Bob opens it from the file list on the other gateway, and sees the same list.
  await signIn(bob.page, link.replace(gw0, gw1), [gw1], 'Bob');
  await sessionReady(bob.page);
  const item = bob.page.locator(`[data-file="${FILE}"] a`);
  await item.waitFor({ timeout: 20_000 });
  await item.click();
  await waitShown(bob.page, 'Bob in the Yjs editor with version 1 listed', (s) => showsText(s, 'The first draft.') && s.panel?.versions.map((v) => v.label).join() === 'first draft');

  // Alice types on (back in the editor, at its end); Bob sees it.
  await alice.page.locator('.cm-content').click();
  await alice.page.keyboard.press('Control+End');
  await alice.page.keyboard.type(' Then a second thought.');
  const later = 'The first draft. Then a second thought.';
  await waitShown(bob.page, 'Bob to see the second thought', (s) => showsText(s, later));

  // She saves it too: Bob's panel lists version 2 live (no Refresh) and says who saved it.
  await alice.page.getByTestId('yjs-version-label').fill('second thought');
  await alice.page.getByTestId('yjs-version-save').click();
  await waitShown(alice.page, 'version 2 listed for Alice', (s) => s.panel?.versions.map((v) => v.version).join() === '2,1' && s.panel.status === 'saved version 2');
  const bobSaved = await waitShown(bob.page, 'Bob lists version 2 live', (s) => s.panel?.versions.map((v) => v.version).join() === '2,1');
  expect(bobSaved.panel?.versions[0]).toMatchObject({ version: 2, label: 'second thought', reason: 'saved' });
  expect(bobSaved.panel?.status).toBe('Alice saved version 2 (second thought)');
  expect(bobSaved.panel?.more).toBe(false);

  // She previews version 1 (its text, not the editor's), then restores it: the confirmation first.
  await alice.page.locator('li[data-version="1"] [data-testid="yjs-version-preview-button"]').click();
  await waitShown(alice.page, 'the preview of version 1', (s) => s.panel?.preview?.version === 1 && s.panel.preview.text === 'The first draft.' && showsText(s, later));
  expect(await alice.page.getByTestId('yjs-version-preview-text').textContent()).toBe('The first draft.');
  await alice.page.locator('li[data-version="1"] [data-testid="yjs-version-restore"]').click();
  await waitShown(alice.page, 'the confirmation asked', (s) => s.panel?.confirming === 1);
  // Cancelling changes nothing.
  await alice.page.getByTestId('yjs-version-cancel').click();
  await waitShown(alice.page, 'the confirmation gone', (s) => s.panel?.confirming === null && showsText(s, later));
  await alice.page.locator('li[data-version="1"] [data-testid="yjs-version-restore"]').click();
  await alice.page.getByTestId('yjs-version-confirm-restore').click();

  // Both editors show version 1; Bob's panel says who restored what (the session event, live).
  await waitShown(alice.page, 'Alice shows version 1', (s) => showsText(s, 'The first draft.'));
  const bobAfter = await waitShown(bob.page, 'Bob shows version 1 live, and hears of the restore', (s) => showsText(s, 'The first draft.') && s.panel?.status === 'Alice restored version 1');
  expect(bobAfter.errors).toBe(0);
  expect((await shown(alice.page)).errors).toBe(0);

  // Editing goes on from the restored text, on both sides.
  await bob.page.locator('.cm-content').click();
  await bob.page.keyboard.press('Control+End');
  await bob.page.keyboard.type(' Bob.');
  await waitShown(alice.page, 'Alice sees Bob type after the restore', (s) => showsText(s, 'The first draft. Bob.'));

  await alice.page.getByTestId('yjs-versions').screenshot({ path: join(OUTPUT_DIR, 'yjs-versions-panel.png') });

  // A viewer (invited from Alice's invites panel, on gateway 1) lists and previews versions; no save, no restore.
  await alice.page.getByTestId('admin-toggle').click();
  const box = alice.page.getByTestId('invite-created-link');
  await alice.page.getByTestId('invite-role').selectOption('viewer');
  await alice.page.getByTestId('invite-create').click();
  const viewerLink = await waitFor('the viewer invite link', async () => ((await box.inputValue()).includes('/join/') ? await box.inputValue() : undefined), { timeoutMs: 10_000 });
  const vic = await app.person();
  await signIn(vic.page, viewerLink.replace(gw0, gw1), [gw1], 'Vic');
  await sessionReady(vic.page);
  const vicItem = vic.page.locator(`[data-file="${FILE}"] a`);
  await vicItem.waitFor({ timeout: 20_000 });
  await vicItem.click();
  await waitShown(vic.page, 'Vic sees the text and the list, read-only', (s) => showsText(s, 'The first draft. Bob.') && s.panel?.canEdit === false && s.panel.versions.length === 2);
  expect(await vic.page.getByTestId('yjs-version-form').isVisible()).toBe(false);
  expect(await vic.page.getByTestId('yjs-version-restore').count()).toBe(0);
  await vic.page.locator('li[data-version="1"] [data-testid="yjs-version-preview-button"]').click();
  await waitShown(vic.page, "Vic previews version 1", (s) => s.panel?.preview?.text === 'The first draft.');
  expect(await vic.page.getByTestId('yjs-version-more').isVisible()).toBe(false);

  // 51 more saves (Alice's SDK client, each after an acknowledged edit): 53 versions. Vic's panel follows live and
  // lists the newest 50; "Load more" appends the other 3.
  const token = await alice.page.evaluate(() => (JSON.parse((globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem('chorus.auth') ?? '{}') as { token: string }).token);
  const sdk = new ChorusClient({ url: [gw0], token, peerId: 'alice-sdk-versions', onWarning: () => undefined });
  app.keep(sdk);
  await sdk.connect();
  const session = sdk.session(sessionId);
  await session.join();
  const provider = new YjsProvider(session, FILE, new Y.Doc());
  await provider.connect();
  const text = provider.doc.getText('codemirror');
  for (let i = 0; i < 51; i++) {
    const acked = new Promise<void>((resolve) => {
      const off = provider.on('acked', () => (off(), resolve()));
    });
    text.insert(text.length, '.');
    await acked;
    expect(await provider.versions.save()).toMatchObject({ version: 3 + i, created: true });
  }
  const paged = await waitShown(vic.page, 'Vic lists the newest 50 live', (s) => s.panel?.versions.length === 50 && s.panel.versions[0].version === 53 && s.panel.more);
  expect(paged.panel?.versions.at(-1)?.version).toBe(4);
  await vic.page.getByTestId('yjs-version-more').click();
  const all = await waitShown(vic.page, 'Vic lists all 53', (s) => s.panel?.versions.length === 53 && !s.panel.more);
  expect(all.panel?.versions.map((v) => v.version)).toEqual(Array.from({ length: 53 }, (_, i) => 53 - i));
  expect(await vic.page.getByTestId('yjs-version-more').isVisible()).toBe(false);
  // A live save keeps the older pages: 54 listed.
  const acked = new Promise<void>((resolve) => {
    const off = provider.on('acked', () => (off(), resolve()));
  });
  text.insert(text.length, '!');
  await acked;
  await provider.versions.save('the last');
  await waitShown(vic.page, 'Vic lists 54, the older pages kept', (s) => s.panel?.versions.length === 54 && s.panel.versions[0].label === 'the last' && s.panel.versions.at(-1)?.version === 1);
  await provider.destroy();
  expect((await shown(vic.page)).errors).toBe(0);
}, 180_000);
