import { createSession, inviteLink, sendChat, sessionReady, signIn, waitForApp } from './support/app';
import { appCluster } from './support/app-cluster';

// Issue 16 in the browser app: a person edits and deletes their own chat message from the chat list (in place:
// Enter saves), the other person's tab shows the new text and then the tombstone, and only one's own messages
// offer the actions. Two gateway processes, one of each service, real Postgres and Redis, real Chromium.

const app = appCluster('browser_chat_edits');

it('edits and deletes one\'s own chat message from the chat list; the other tab follows', async () => {
  const [g1, g2] = app.cluster.gateways;
  const alice = await app.person();
  const bob = await app.person();
  await signIn(alice.page, g1, [g1, g2], 'Alice edits');
  await createSession(alice.page, 'browser chat edits');
  const link = await inviteLink(alice.page);
  await signIn(bob.page, link.replace(g1, g2), [g2, g1], 'Bob edits');
  await sessionReady(bob.page);

  await sendChat(alice.page, 'teh first draft');
  await waitForApp(bob.page, 'Bob to see the message', (s) => s.chat.some((m) => m.message === 'teh first draft'));
  const mine = alice.page.locator('.chat-list li', { hasText: 'teh first draft' });
  // Bob's copy of Alice's message has no actions; hers has both.
  await bob.page.locator('.chat-list li', { hasText: 'teh first draft' }).waitFor();
  expect(await bob.page.locator('.chat-list li', { hasText: 'teh first draft' }).getByTestId('chat-edit').count()).toBe(0);

  await mine.getByTestId('chat-edit').click();
  await alice.page.getByTestId('chat-edit-input').fill('the final draft');
  await alice.page.getByTestId('chat-edit-input').press('Enter');
  await waitForApp(bob.page, 'Bob to see the edit', (s) => s.chat.some((m) => m.message === 'the final draft'));
  await bob.page.locator('.chat-list li[data-state="edited"]', { hasText: 'the final draft' }).waitFor();
  await alice.page.locator('.chat-list li[data-state="edited"]', { hasText: 'the final draft' }).waitFor();

  await alice.page.locator('.chat-list li', { hasText: 'the final draft' }).getByTestId('chat-delete').click();
  await bob.page.locator('.chat-list li[data-state="deleted"]', { hasText: 'message deleted' }).waitFor();
  const shown = await waitForApp(bob.page, 'Bob to drop the text', (s) => s.chat.length === 1 && s.chat[0].message === '');
  expect(shown.chat).toHaveLength(1);
  expect(await bob.page.locator('.chat-list').textContent()).not.toContain('draft');
}, 180_000);
