import { setUpSession } from './support/scenario';
import { startTestStack, type TestStack } from './support/stack';
import { WsClient } from './support/ws-client';

// WS_PERMESSAGE_DEFLATE=true: /ws negotiates compression with a client that offers it, and frames still round-trip
// (off by default: ws-edge.e2e-spec.ts checks that nothing is negotiated then).

let stack: TestStack;
afterAll(async () => stack?.stop());

it('negotiates permessage-deflate when configured, and serves compressed frames', async () => {
  stack = await startTestStack('ws_deflate', { env: { WS_PERMESSAGE_DEFLATE: 'true' } });
  const people = await setUpSession(stack.url, 'deflate');
  const c = await WsClient.connect(stack.url, people.alice.token);
  expect(c.ws.extensions).toContain('permessage-deflate');
  expect(await c.request({ type: 'join', session_id: people.sessionId, peer_id: 'deflated', join_token: await people.alice.joinToken() })).toMatchObject({ type: 'joined' });
  const long = 'compressible '.repeat(500);
  expect(await c.request({ type: 'chat_message', session_id: people.sessionId, message: long })).toMatchObject({ type: 'chat_message', message: long });
  c.close();
});
