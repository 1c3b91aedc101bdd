import { ChorusClient, ChorusRest } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { sessionReady, signIn } from './support/app';
import { appCluster } from './support/app-cluster';

// Issue #19 in the browser app: joining a password-protected public session from the discovery list asks for the
// password inline (no window.prompt), sends it with the join, shows the server's refusal (a wrong password is
// PERMISSION_DENIED "Wrong session password.") and lets the user try again; the right one opens the session, as
// a viewer. A session without a password opens at once, and a participant is never asked (real Chromium, one
// gateway process; the SDK makes the sessions and reads what the server has).

const app = appCluster('browser_discovery_password', { gateways: 1 });

async function until<T>(description: string, read: () => Promise<T>, expected: T, timeoutMs = 15_000): Promise<void> {
  let last: T | undefined;
  await waitFor(description, async () => {
    last = await read();
    return last === expected ? true : undefined;
  }, { timeoutMs, intervalMs: 50 }).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
  });
}

it('asks for the password inline, shows a wrong one refused, and joins with the right one', async () => {
  const [g1] = app.cluster.gateways;
  const token = await ChorusRest.devToken(g1, { user_id: 'olive-owner', display_name: 'Olive' });
  const olive = new ChorusClient({ url: [g1], token, onWarning: () => undefined });
  app.keep(olive);
  const participants = async (sessionId: string) => {
    const res = await fetch(`${g1}/api/v1/collaboration/sessions/${sessionId}/participants`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as Array<{ user_id: string; role: string }>).map((p) => [p.role, p.user_id === 'olive-owner' ? p.user_id : 'someone else']).sort();
  };
  const label = `locked-${Date.now().toString(36)}`;
  const locked = await olive.rest.createSession({ name: `${label} with password`, is_public: true, password: 'sesame-42' });
  const open = await olive.rest.createSession({ name: `${label} open`, is_public: true });
  const guarded = await olive.rest.createSession({ name: `${label} guarded`, is_public: true, password: 'sesame-43' });

  const dora = await app.person();
  await signIn(dora.page, g1, [g1], 'Dora');
  // This cluster's only public sessions are these three: the home screen's first page lists them (no search, so
  // no second list can replace the one clicked in).
  await dora.page.getByTestId('discovery').waitFor();
  const item = dora.page.locator(`[data-testid="discover-item"][data-session-id="${locked.session_id}"]`);
  await item.waitFor();
  expect(await item.textContent()).toContain('password');

  // Opening it asks, in the list: the page stays on the home screen, the password field has the focus.
  const form = item.getByTestId('discover-password-form');
  expect(await form.isHidden()).toBe(true);
  await item.locator('a').click();
  await form.waitFor();
  expect(new URL(dora.page.url()).pathname).toBe('/');
  // (A string: this file is compiled without the DOM's types.)
  expect(await dora.page.evaluate('document.activeElement?.getAttribute("data-testid")')).toBe('discover-password');
  // The open session, also listed, has no form (it opens at once).
  expect(await dora.page.locator(`[data-testid="discover-item"][data-session-id="${open.session_id}"] [data-testid="discover-password-form"]`).count()).toBe(0);

  // A wrong password: refused with the server's code and message, in the form; nothing opened.
  await item.getByTestId('discover-password').fill('open-sesame');
  await item.getByTestId('discover-password-join').click();
  await until('the refusal', async () => (await item.getByTestId('discover-password-error').textContent()) ?? '', 'PERMISSION_DENIED: Wrong session password.');
  expect(await form.isVisible()).toBe(true);
  expect(new URL(dora.page.url()).pathname).toBe('/');
  expect(dora.errors.splice(0)).toEqual([expect.stringMatching(/status of 403/)]);
  expect(await participants(locked.session_id)).toEqual([['owner', 'olive-owner']]);

  // Again, with the right one: the session opens, Dora is a viewer of it.
  await item.getByTestId('discover-password').fill('sesame-42');
  await item.getByTestId('discover-password-join').click();
  await sessionReady(dora.page);
  expect(await dora.page.getByTestId('session-id').textContent()).toBe(locked.session_id);
  expect(await participants(locked.session_id)).toEqual([['owner', 'olive-owner'], ['viewer', 'someone else']]);

  // Back home: a participant is not asked again, and a session without a password opens at once.
  await dora.page.goto(g1);
  await item.waitFor();
  await until('Dora listed as a viewer of it', async () => (await item.textContent()) ?? '', `${label} with password2/50passwordviewer`);
  await item.locator('a').click();
  await sessionReady(dora.page);
  expect(await dora.page.getByTestId('session-id').textContent()).toBe(locked.session_id);
  await dora.page.goto(g1);
  await dora.page.locator(`[data-testid="discover-item"][data-session-id="${open.session_id}"] a`).click();
  await sessionReady(dora.page);
  expect(await dora.page.getByTestId('session-id').textContent()).toBe(open.session_id);

  // Guessing: five wrong passwords a minute per user (apps/gateway limits/password-guesses.ts); the sixth try is
  // RATE_LIMITED, and the form says when to retry.
  await dora.page.goto(g1);
  const other = dora.page.locator(`[data-testid="discover-item"][data-session-id="${guarded.session_id}"]`);
  await other.locator('a').click();
  const error = other.getByTestId('discover-password-error');
  for (let i = 1; i <= 5; i++) {
    await other.getByTestId('discover-password').fill(`guess-${i}`);
    // The click clears the previous refusal and disables Join until the answer: the same text again is this one's.
    await other.getByTestId('discover-password-join').click();
    await until(`wrong guess ${i} refused`, async () => (await error.textContent()) === 'PERMISSION_DENIED: Wrong session password.' && (await other.getByTestId('discover-password-join').isEnabled()), true);
  }
  await other.getByTestId('discover-password').fill('sesame-43');
  await other.getByTestId('discover-password-join').click();
  await until('the sixth try rate limited', async () => /^RATE_LIMITED: Too many wrong passwords; retry in \d+ s\.$/.test((await error.textContent()) ?? ''), true);
  expect(new URL(dora.page.url()).pathname).toBe('/');
  expect(dora.errors.splice(0)).toEqual([...Array.from({ length: 5 }, () => expect.stringMatching(/status of 403/)), expect.stringMatching(/status of 429/)]);
}, 120_000);
