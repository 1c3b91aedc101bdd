import type { Page } from 'playwright-core';
import { waitFor } from '@chorus/testing';

// Drives the browser app like a person (forms, buttons, the keyboard) and reads it through window.chorusDebug
// (apps/web/src/debug.ts), which reports what the editor shows and what the SDK holds.

/** What `window.chorusDebug` answers (apps/web/src/debug.ts). */
export interface AppState {
  peerId: string | null;
  url: string | null;
  connection: string | null;
  sessionState: string | null;
  editorText: string | null;
  docText: string | null;
  version: number | null;
  pending: boolean | null;
  drawnCursors: Array<{ peerId: string; name: string; anchor: number; head: number }>;
  chat: Array<{ seq: number; message: string; peer_id: string }>;
  ownSelection: { anchor: number; head: number } | null;
  sdkCursors: Array<{ peerId: string; anchor: number; head: number }>;
}

/** One snapshot of the app's state. */
export function appState(page: Page): Promise<AppState> {
  return page.evaluate(() => {
    const d = (globalThis as unknown as { chorusDebug: Record<string, () => unknown> }).chorusDebug;
    return {
      peerId: d.peerId(),
      url: d.url(),
      connection: d.connection(),
      sessionState: d.sessionState(),
      editorText: d.editorText(),
      docText: d.docText(),
      version: d.version(),
      pending: d.pending(),
      drawnCursors: d.drawnCursors(),
      chat: d.chat(),
      ownSelection: d.ownSelection(),
      sdkCursors: d.sdkCursors(),
    } as AppState;
  });
}

/** Polls the app's state until `check` holds (a deadline, never a fixed sleep); the failure shows the last state. */
export async function waitForApp(page: Page, description: string, check: (s: AppState) => boolean, timeoutMs = 20_000): Promise<AppState> {
  let last: AppState | null = null;
  try {
    return await waitFor(
      description,
      async () => {
        last = await appState(page);
        return check(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 25 },
    );
  } catch (err) {
    const s = last as AppState | null;
    const shown = s ? { ...s, editorText: s.editorText?.slice(-120), textLength: s.editorText?.length, docText: undefined } : null;
    throw new Error(`${(err as Error).message}; last state: ${JSON.stringify(shown)}`);
  }
}

function withGateways(url: string, gateways: readonly string[]): string {
  const u = new URL(url);
  u.searchParams.set('gateways', gateways.join(','));
  return u.toString();
}

/** Opens `url` (the app's home or an invite link) and signs in through the dev-token form. */
export async function signIn(page: Page, url: string, gateways: readonly string[], name: string): Promise<void> {
  await page.goto(withGateways(url, gateways));
  await page.getByTestId('name').fill(name);
  await page.getByTestId('sign-in').locator('button[type=submit]').click();
}

/** Waits until the session screen is joined, connected, and the default file is loaded into the editor. */
export async function sessionReady(page: Page): Promise<AppState> {
  await page.waitForURL(/\/s\/[0-9a-f-]{36}$/, { timeout: 20_000 });
  return waitForApp(page, 'the session to be joined and the file loaded', (s) => s.connection === 'connected' && s.sessionState === 'joined' && s.editorText !== null);
}

/** Creates a session from the home screen and returns its id. */
export async function createSession(page: Page, name: string): Promise<string> {
  await page.getByTestId('session-name').fill(name);
  await page.getByTestId('create-session').locator('button[type=submit]').click();
  await sessionReady(page);
  return (await page.getByTestId('session-id').textContent()) ?? '';
}

/** Clicks "Copy invite link" and returns the link shown. */
export async function inviteLink(page: Page): Promise<string> {
  await page.getByTestId('invite').click();
  const box = page.getByTestId('invite-link');
  return waitFor('the invite link', async () => {
    const value = await box.inputValue();
    return value.includes('/join/') ? value : undefined;
  }, { timeoutMs: 10_000 });
}

/** Puts the caret at the start or the end of the document. */
export async function caretTo(page: Page, where: 'start' | 'end'): Promise<void> {
  await page.locator('.cm-content').click();
  await page.keyboard.press(where === 'start' ? 'Control+Home' : 'Control+End');
}

/**
 * Types tokens `<prefix><n>.` one key at a time at the caret until `until()` says stop; returns them in order.
 * Tokens are unique and self-delimiting, so the final text shows whether each keystroke landed exactly once.
 */
export async function typeTokens(page: Page, prefix: string, until: () => boolean, from = 0, between?: () => Promise<void>): Promise<string[]> {
  const typed: string[] = [];
  for (let n = from; !until(); n++) {
    const token = `${prefix}${n}.`;
    await page.keyboard.type(token);
    typed.push(token);
    await between?.();
  }
  return typed;
}

/** The tokens of one typist in document order. */
export function tokensOf(text: string, prefix: string): string[] {
  return text.match(new RegExp(`${prefix}\\d+\\.`, 'g')) ?? [];
}

/** Sends a chat message through the chat form. */
export async function sendChat(page: Page, message: string): Promise<void> {
  await page.getByTestId('chat-input').fill(message);
  await page.getByTestId('chat-input').press('Enter');
  // Back to the editor: CodeMirror keeps its selection, so typing goes on at the same caret.
  await page.locator('.cm-content').focus();
}
