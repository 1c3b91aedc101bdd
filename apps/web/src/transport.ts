import type { ChorusTransport } from '@chorus/client';

/**
 * The transport the app connects with: `?transport=ws` (kept for the tab, like `?gateways=`) uses a plain
 * WebSocket to the gateway's /ws — the browser's own `WebSocket`, authenticated by a first `auth` frame, never a
 * token in the URL; `?transport=ws-ticket` gets a single-use ticket over REST first; anything else Socket.IO.
 */
export function transportChoice(): ChorusTransport {
  const fromQuery = new URLSearchParams(location.search).get('transport');
  if (fromQuery) sessionStorage.setItem('chorus.transport', fromQuery);
  const choice = fromQuery ?? sessionStorage.getItem('chorus.transport') ?? 'socket.io';
  if (choice === 'ws') return { kind: 'websocket', WebSocket };
  if (choice === 'ws-ticket') return { kind: 'websocket', WebSocket, auth: 'ticket' };
  return 'socket.io';
}
