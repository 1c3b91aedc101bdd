import type { Page } from 'playwright-core';
import * as Y from 'yjs';
import { ChorusClient, ChorusRest } from '@chorus/client';
import { waitFor } from '@chorus/testing';
import { createSession, inviteLink, sessionReady, signIn, tokensOf } from './support/app';
import { appCluster } from './support/app-cluster';

// A Yjs document in the browser app (apps/web/src/yjs-editor.ts: CodeMirror through y-codemirror.next, the SDK's
// YjsProvider) in real Chromium against two gateway processes: Alice creates the file as `yjs` on gateway 0, Bob
// opens it from the file list on gateway 1 (the app learns its kind from the server), both type at once. The
// editors converge on one text holding every keystroke, each draws the other's cursor from awareness, and the
// state the server stored in Postgres (read over REST by a third client) is that text.

const FILE = 'notes/design.md';
const app = appCluster('browser_yjs');

interface YjsState {
  kind: string | null;
  editorText: string | null;
  yjsText: string | null;
  yjsSynced: boolean | null;
  yjsCursors: Array<{ clientId: number; name: string; placed: boolean }>;
  carets: string[];
}

async function yjsState(page: Page): Promise<YjsState> {
  const state = await page.evaluate(() => {
    const d = (globalThis as unknown as { chorusDebug: Record<string, () => unknown> }).chorusDebug;
    return { kind: d.kind(), editorText: d.editorText(), yjsText: d.yjsText(), yjsSynced: d.yjsSynced(), yjsCursors: d.yjsCursors() } as Omit<YjsState, 'carets'>;
  });
  // The remote carets y-codemirror.next draws, with the name of whose they are.
  const carets = await page.locator('.cm-ySelectionInfo').allTextContents();
  return { ...state, carets };
}

async function waitForYjs(page: Page, description: string, check: (s: YjsState) => boolean, timeoutMs = 30_000): Promise<YjsState> {
  let last: YjsState | null = null;
  return waitFor(
    description,
    async () => {
      last = await yjsState(page);
      return check(last) ? last : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last state: ${JSON.stringify(last)}`);
  });
}

async function typeTokens(page: Page, prefix: string, count: number): Promise<string[]> {
  const typed: string[] = [];
  for (let n = 0; n < count; n++) {
    const token = `${prefix}${n}.`;
    await page.keyboard.type(token);
    typed.push(token);
  }
  return typed;
}

it('two people on two gateways edit one Yjs document in CodeMirror: both converge, cursors drawn, the stored state equals it', async () => {
  const [gw0, gw1] = app.cluster.gateways;
  const alice = await app.person();
  const bob = await app.person();
  await signIn(alice.page, gw0, [gw0], 'Alice');
  const sessionId = await createSession(alice.page, 'yjs in the browser');
  const link = await inviteLink(alice.page);
  const code = (await alice.page.getByTestId('invite-link').getAttribute('data-code')) as string;

  // Alice creates the file as a Yjs document.
  await alice.page.getByTestId('file-input').fill(FILE);
  await alice.page.getByTestId('file-kind').selectOption('yjs');
  await alice.page.getByTestId('file-input').press('Enter');
  await waitForYjs(alice.page, 'Alice in the Yjs editor', (s) => s.kind === 'yjs' && s.yjsSynced === true && s.editorText === '');

  // Bob joins on the other gateway and opens it from the file list (there as Alice's active file): tried as text,
  // refused CONFLICT by the server, opened as what it is.
  await signIn(bob.page, link.replace(gw0, gw1), [gw1], 'Bob');
  await sessionReady(bob.page);
  const item = bob.page.locator(`[data-file="${FILE}"] a`);
  await item.waitFor({ timeout: 20_000 });
  await item.click();
  await waitForYjs(bob.page, 'Bob in the Yjs editor', (s) => s.kind === 'yjs' && s.yjsSynced === true);
  expect(await bob.page.locator(`[data-file="${FILE}"]`).getAttribute('data-kind')).toBe('yjs');

  // Both type at once, each into their own editor on their own gateway.
  await alice.page.locator('.cm-content').click();
  await bob.page.locator('.cm-content').click();
  const [aliceTyped, bobTyped] = await Promise.all([typeTokens(alice.page, 'A', 20), typeTokens(bob.page, 'B', 20)]);

  let last: YjsState[] = [];
  const [a] = await waitFor(
    'both editors converged on every keystroke',
    async () => {
      last = await Promise.all([yjsState(alice.page), yjsState(bob.page)]);
      const [x, y] = last;
      const text = x.editorText ?? '';
      const converged = x.editorText === x.yjsText && y.editorText === y.yjsText && x.editorText === y.editorText;
      return converged && tokensOf(text, 'A').length === 20 && tokensOf(text, 'B').length === 20 ? last : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
  const text = a.editorText as string;
  // Every keystroke landed exactly once, each person's tokens in the order typed (a CRDT keeps runs together).
  expect(tokensOf(text, 'A')).toEqual(aliceTyped);
  expect(tokensOf(text, 'B')).toEqual(bobTyped);
  expect(text.replace(/[AB]\d+\./g, '')).toBe('');

  // Remote cursors through awareness: each sees the other's name at a caret in the text.
  await waitForYjs(alice.page, 'Alice to draw Bob\'s caret', (s) => s.yjsCursors.some((c) => c.name === 'Bob' && c.placed) && s.carets.includes('Bob'));
  await waitForYjs(bob.page, 'Bob to draw Alice\'s caret', (s) => s.yjsCursors.some((c) => c.name === 'Alice' && c.placed) && s.carets.includes('Alice'));

  // Bob reloads: the file list marks the file as Yjs from the server's listing before it is opened, and it opens
  // with the merged text.
  await bob.page.reload();
  await sessionReady(bob.page);
  await waitFor('the listed file marked yjs', async () => ((await bob.page.locator(`[data-file="${FILE}"]`).getAttribute('data-kind')) === 'yjs' ? true : undefined), { timeoutMs: 20_000 });
  await bob.page.locator(`[data-file="${FILE}"] a`).click();
  await waitForYjs(bob.page, 'Bob to reopen the merged text', (s) => s.kind === 'yjs' && s.yjsSynced === true && s.editorText === text);

  // The durable state (Postgres, merged snapshot + log) read over REST by another participant equals the editors.
  const token = await ChorusRest.devToken(gw1, { user_id: 'yjs-observer', display_name: 'Observer', kind: 'agent' });
  const observer = new ChorusClient({ url: [gw1], token, onWarning: () => undefined });
  app.keep(observer);
  await observer.rest.redeemInvite(code);
  await waitFor(
    'the stored state to equal the editors',
    async () => {
      const res = await fetch(`${gw1}/api/v1/collaboration/sessions/${sessionId}/yjs-documents/${encodeURIComponent(FILE)}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`GET yjs document: ${res.status}`);
      const body = (await res.json()) as { update: string };
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Buffer.from(body.update, 'base64'));
      return doc.getText('codemirror').toString() === text ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
}, 120_000);
