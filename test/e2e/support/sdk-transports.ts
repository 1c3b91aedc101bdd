import WebSocket from 'ws';
import type { ChorusTransport } from '@chorus/client';

/**
 * The SDK's two transports, for specs that run over both: Socket.IO (the default) and a plain WebSocket to /ws —
 * the `ws` package's class here, Node's global WebSocket and a browser's elsewhere (sdk-ws-cluster, test/browser).
 */
export const SDK_TRANSPORTS: ReadonlyArray<readonly [name: 'socket.io' | 'ws', transport: ChorusTransport]> = [
  ['socket.io', 'socket.io'],
  ['ws', { kind: 'websocket', WebSocket }],
];
