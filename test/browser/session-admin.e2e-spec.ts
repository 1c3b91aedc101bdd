import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Page } from 'playwright-core';
import { ChorusClient, ChorusRest } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { appState, createSession, sessionReady, signIn } from './support/app';
import type { BrowserUser } from './support/browser';
import { OUTPUT_DIR } from './support/web-build';
import { appCluster } from './support/app-cluster';

// Issue #19 in the browser app (docs/session-admin.md "In the browser app"), real Chromium on two gateway
// processes: the owner changes the session's name and settings in her tab and a viewer's tab on the other gateway
// (over the plain WebSocket; hers is Socket.IO) shows them without a reload; an invite addressed to Bob is
// redeemed by Bob's tab while Carol's tab is refused with PERMISSION_DENIED; a revoked invite leaves the list; a
// template made in the UI starts a session with its settings; public discovery searches by name and pages with
// "Load more". A Node SDK client reads what the server has.

const app = appCluster('browser_session_admin');

/** A Node SDK client of its own (not a participant): reads what the server has. */
async function observer(label: string): Promise<ChorusClient> {
  const token = await ChorusRest.devToken(app.cluster.gateways[1], { user_id: `observer-${label}`, display_name: 'Observer' });
  const c = new ChorusClient({ url: [app.cluster.gateways[1]], token, onWarning: () => undefined });
  app.keep(c);
  return c;
}

/** Waits until `read()` answers `expected` (deep equality: key order aside; a deadline, never a sleep). */
async function until<T>(description: string, read: () => Promise<T>, expected: T, timeoutMs = 15_000): Promise<void> {
  let last: T | undefined;
  await waitFor(description, async () => {
    last = await read();
    return isDeepStrictEqual(last, expected) ? true : undefined;
  }, { timeoutMs, intervalMs: 50 }).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
  });
}

const text = (page: Page, testId: string) => async () => (await page.getByTestId(testId).textContent())?.trim() ?? '';

/** The settings panel as it shows the session. */
async function shownSettings(page: Page): Promise<{ name: string; settings: unknown; isPublic: boolean; max: string; editable: boolean }> {
  return {
    name: await page.getByTestId('settings-name').inputValue(),
    settings: JSON.parse(await page.getByTestId('settings-json').inputValue()) as unknown,
    isPublic: await page.getByTestId('settings-public').isChecked(),
    max: await page.getByTestId('settings-max').inputValue(),
    editable: (await page.getByTestId('settings').getAttribute('data-editable')) === 'true',
  };
}

async function openAdmin(page: Page): Promise<void> {
  await page.getByTestId('admin-toggle').click();
  await page.getByTestId('settings-form').waitFor();
}

/** Creates an invite in the invites panel; returns its link (with the secret token) and its code. */
async function createInvite(page: Page, options: { role: string; userId?: string; permanent?: boolean }): Promise<{ link: string; code: string }> {
  const box = page.getByTestId('invite-created-link');
  const before = await box.inputValue();
  await page.getByTestId('invite-role').selectOption(options.role);
  await page.getByTestId('invite-user-id').fill(options.userId ?? '');
  await page.getByTestId('invite-permanent').setChecked(options.permanent === true);
  await page.getByTestId('invite-create').click();
  const link = await waitFor('the new invite link', async () => {
    const value = await box.inputValue();
    return value !== before && value.includes('/join/') ? value : undefined;
  }, { timeoutMs: 10_000 });
  return { link, code: (await box.getAttribute('data-code')) as string };
}

/** Alice, who owns the session of the first two tests, on gateway 1. */
let alice: BrowserUser;
let sessionId: string;

describe('session settings, invites and templates in the browser app (two gateways)', () => {
  it('the owner changes the name and settings in her tab; a viewer on the other gateway sees them live, read-only', async () => {
    const [g1, g2] = app.cluster.gateways;
    alice = await app.person();
    await signIn(alice.page, g1, [g1, g2], 'Alice owner');
    sessionId = await createSession(alice.page, 'Settings demo');
    await openAdmin(alice.page);
    await until('Alice sees her session, editable', async () => shownSettings(alice.page), { name: 'Settings demo', settings: {}, isPublic: false, max: '50', editable: true });
    expect(await text(alice.page, 'settings-role')()).toContain('owner');

    // A viewer invite from the panel; Dan opens it on gateway 2's copy of the app, over the plain WebSocket (/ws).
    const { link } = await createInvite(alice.page, { role: 'viewer' });
    const dan = await app.person();
    await signIn(dan.page, `${link.replace(g1, g2)}?transport=ws`, [g2, g1], 'Dan viewer');
    await sessionReady(dan.page);
    expect(await dan.page.getByTestId('session-id').textContent()).toBe(sessionId);
    expect((await appState(dan.page)).url).toBe(g2);
    expect(await dan.page.getByTestId('conn-state').getAttribute('data-transport')).toBe('websocket');
    expect((await appState(alice.page)).url).toBe(g1);
    await openAdmin(dan.page);
    await until('Dan sees the session read-only', async () => shownSettings(dan.page), { name: 'Settings demo', settings: {}, isPublic: false, max: '50', editable: false });
    expect(await dan.page.getByTestId('settings-name').isDisabled()).toBe(true);
    expect(await dan.page.getByTestId('settings-save').isHidden()).toBe(true);
    expect(await text(dan.page, 'settings-role')()).toContain('viewer');
    expect(await dan.page.getByTestId('invites-note').isVisible()).toBe(true);
    // Marks Dan's page: a reload would lose it.
    await dan.page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));

    await alice.page.getByTestId('settings-name').fill('Settings demo v2');
    await alice.page.getByTestId('settings-json').fill('{ "theme": "dark", "tab_width": 2 }');
    await alice.page.getByTestId('settings-max').fill('7');
    await alice.page.getByTestId('settings-public').check();
    await alice.page.getByTestId('settings-save').click();
    await until('Alice saved', text(alice.page, 'settings-status'), 'Saved: name, settings, is_public, max_participants');
    expect(await text(alice.page, 'session-title')()).toBe('Settings demo v2');

    // Dan's tab, on the other gateway, follows the session_updated push.
    await until('Dan\'s header shows the new name', text(dan.page, 'session-title'), 'Settings demo v2');
    await until('Dan\'s panel shows the new values', async () => shownSettings(dan.page), { name: 'Settings demo v2', settings: { theme: 'dark', tab_width: 2 }, isPublic: true, max: '7', editable: false });
    expect(await dan.page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await text(dan.page, 'settings-status')()).toBe('Updated live: name, settings, is_public, max_participants');

    // The server has what both tabs show.
    const server = await (await observer('settings')).admin.getSession(sessionId);
    expect(server).toMatchObject({ name: 'Settings demo v2', settings: { theme: 'dark', tab_width: 2 }, is_public: true, max_participants: 7 });

    // Bad input is refused with the server's typed error, shown in the panel; nothing changes.
    await alice.page.getByTestId('settings-max').fill('1');
    await alice.page.getByTestId('settings-save').click();
    await until('the refusal', async () => (await text(alice.page, 'settings-status')()).split(':').slice(0, 2).join(':'), 'not saved: VALIDATION_ERROR');
    expect(await text(alice.page, 'settings-status')()).toContain('cannot go below');
    expect(alice.errors.splice(0)).toEqual([expect.stringMatching(/status of 400/)]);
    // The same values as the session's: nothing is sent.
    await alice.page.getByTestId('settings-max').fill('7');
    await alice.page.getByTestId('settings-save').click();
    await until('nothing to send', text(alice.page, 'settings-status'), 'Nothing changed.');
  }, 120_000);

  it('an invite addressed to Bob: Bob\'s tab redeems it, Carol\'s tab is refused with PERMISSION_DENIED; a revoked invite leaves the list', async () => {
    const [g1, g2] = app.cluster.gateways;
    const bob = await app.person();
    await signIn(bob.page, g2, [g2, g1], 'Bob');
    const bobId = await waitFor('Bob\'s user id', async () => (await bob.page.getByTestId('user-id').textContent()) || undefined, { timeoutMs: 10_000 });

    const forBob = await createInvite(alice.page, { role: 'editor', userId: bobId });
    const item = alice.page.locator(`[data-testid="invite-item"][data-code="${forBob.code}"]`);
    await item.waitFor();
    expect(await item.getAttribute('data-user-id')).toBe(bobId);
    expect(await item.textContent()).toContain(`for ${bobId}`);

    // Carol opens Bob's link: refused, visibly, with the code.
    const carol = await app.person();
    await signIn(carol.page, forBob.link.replace(g1, g2), [g2, g1], 'Carol');
    const refusal = carol.page.getByTestId('error');
    await until('Carol sees the refusal', async () => (await refusal.textContent())?.split(':').slice(0, 2).join(':'), 'This invite did not work: PERMISSION_DENIED');
    expect(await refusal.isVisible()).toBe(true);
    expect(carol.errors.splice(0)).toEqual([expect.stringMatching(/status of 403/)]);

    // Bob's tab (signed in already) opens the same link and joins, as an editor.
    await bob.page.goto(forBob.link.replace(g1, g2));
    await sessionReady(bob.page);
    expect(await bob.page.getByTestId('session-id').textContent()).toBe(sessionId);
    await openAdmin(bob.page);
    await until('Bob is an editor', text(bob.page, 'settings-role'), 'You are editor: read only (owners and admins change these).');
    // Alice's list follows the redemption (invite_redeemed).
    await until('Alice sees the invite used once', async () => (await item.locator('.uses').textContent()) ?? '', '1 used');

    // A permanent link, listed as such, then revoked: it leaves the list and no longer works.
    const permanent = await createInvite(alice.page, { role: 'viewer', permanent: true });
    const permanentItem = alice.page.locator(`[data-testid="invite-item"][data-code="${permanent.code}"]`);
    await permanentItem.waitFor();
    expect(await permanentItem.textContent()).toContain('permanent');
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await alice.page.screenshot({ path: join(OUTPUT_DIR, 'session-admin.png') });
    await permanentItem.getByTestId('invite-revoke').click();
    await permanentItem.waitFor({ state: 'detached' });
    expect(await item.isVisible()).toBe(true);
    await carol.page.goto(`${g2}/join/${permanent.code}`);
    await until('the revoked invite is refused', async () => (await carol.page.getByTestId('error').textContent())?.split(':').slice(0, 2).join(':'), 'This invite did not work: NOT_FOUND');
    expect(carol.errors.splice(0)).toEqual([expect.stringMatching(/status of 404/)]);
  }, 120_000);

  it('a template made in the UI starts a session with its settings; public discovery searches by name and loads more', async () => {
    const [g1, g2] = app.cluster.gateways;
    await alice.page.goto(g1);
    const templates = alice.page.getByTestId('templates');
    await templates.waitFor();
    await alice.page.getByTestId('template-name').fill('Pairing');
    await alice.page.getByTestId('template-settings').fill('{"theme": "light", "tab_width": 4}');
    await alice.page.getByTestId('template-public').check();
    await alice.page.getByTestId('template-max').fill('4');
    await alice.page.getByTestId('template-channels').fill('x-build, x-review');
    await alice.page.getByTestId('template-create').click();
    const template = alice.page.locator('[data-testid="template-item"][data-name="Pairing"]');
    await template.waitFor();
    expect(await template.textContent()).toContain('public · max 4 · x-build x-review');

    await alice.page.getByTestId('session-name').fill('Pairing: lexer');
    await template.getByTestId('template-use').click();
    await sessionReady(alice.page);
    const fromTemplate = (await alice.page.getByTestId('session-id').textContent()) as string;
    expect(fromTemplate).not.toBe(sessionId);
    await openAdmin(alice.page);
    const expected = { name: 'Pairing: lexer', settings: { theme: 'light', tab_width: 4, channels: ['x-build', 'x-review'] }, isPublic: true, max: '4', editable: true };
    await until('the new session has the template\'s settings', async () => shownSettings(alice.page), expected);
    expect(await text(alice.page, 'session-title')()).toBe('Pairing: lexer');
    const reader = await observer('template');
    expect(await reader.admin.getSession(fromTemplate)).toMatchObject({ name: 'Pairing: lexer', settings: expected.settings, is_public: true, max_participants: 4 });

    // Discovery: twelve public sessions named alike (made through the SDK) and one private; pages of ten.
    const label = `needle-${Date.now().toString(36)}`;
    for (let i = 0; i < 12; i++) await reader.rest.createSession({ name: `Find ${label} ${i}`, is_public: true });
    await reader.rest.createSession({ name: `Find ${label} private`, is_public: false });
    const dora = await app.person();
    await signIn(dora.page, g2, [g2, g1], 'Dora');
    await dora.page.getByTestId('discovery').waitFor();
    await dora.page.getByTestId('discover-q').fill(label.toUpperCase());
    await dora.page.getByTestId('discover-q').press('Enter');
    const found = dora.page.getByTestId('discover-item');
    await until('the first page', () => found.count(), 10);
    const more = dora.page.getByTestId('discover-more');
    expect(await more.isVisible()).toBe(true);
    await more.click();
    await until('the second page', () => found.count(), 12);
    expect(await more.isHidden()).toBe(true);
    // Each public one once, the private one never.
    const names = await found.locator('a').allTextContents();
    expect([...names].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `Find ${label} ${i}`).sort());

    // Opening one joins it as a viewer.
    await found.locator('a', { hasText: `Find ${label} 3` }).click();
    await sessionReady(dora.page);
    await openAdmin(dora.page);
    await until('Dora is a viewer of it', text(dora.page, 'settings-role'), 'You are viewer: read only (owners and admins change these).');

    // The template is deleted from the home screen.
    await alice.page.goto(g1);
    await template.waitFor();
    await template.getByTestId('template-delete').click();
    await template.waitFor({ state: 'detached' });
    await alice.page.reload();
    await until('no templates left', text(alice.page, 'template-list'), 'No templates yet.');
  }, 120_000);
});
