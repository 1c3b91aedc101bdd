import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotFoundException, type INestApplication } from '@nestjs/common';
import type { Runtime } from './runtime';

/** `/metrics` and `/health/*`: what Prometheus and the kubelet read, and nobody on the internet should. */
export function isAdminPath(url: string): boolean {
  const path = url.split('?', 1)[0];
  return path === '/metrics' || path === '/health' || path.startsWith('/health/');
}

/** Marks a request that came in on the admin listener. */
const ON_ADMIN = Symbol('chorus.admin');

type AdminRequest = IncomingMessage & { [ON_ADMIN]?: true };

/**
 * ADMIN_PORT (docs/observability.md): the admin paths are served by a listener of their own, on the same Nest
 * app (same routes, readiness checks and registry), and the public port answers them 404 as an unknown route.
 * Without ADMIN_PORT nothing changes: both are served on PORT.
 *
 * `guard()` must run before the app listens (Express middleware is ordered); `listen()` after, once the routes
 * exist. Returns the bound admin port (ADMIN_PORT=0 asks the OS for one), or undefined when there is none.
 */
export function adminListener(app: INestApplication, runtime: Runtime): { guard(): void; listen(): Promise<number | undefined> } {
  const port = runtime.config.http.adminPort;
  return {
    guard() {
      if (port === undefined) return;
      app.use((req: AdminRequest, _res: ServerResponse, next: (err?: unknown) => void) => {
        if (req[ON_ADMIN] !== true && isAdminPath(req.url ?? '/')) next(new NotFoundException());
        else next();
      });
    },
    async listen() {
      if (port === undefined) return undefined;
      const handle = app.getHttpAdapter().getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
      const server = createServer((req: AdminRequest, res) => {
        if (!isAdminPath(req.url ?? '/')) {
          res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ code: 'NOT_FOUND', message: 'The admin port serves /metrics and /health/* only.' }));
          return;
        }
        req[ON_ADMIN] = true;
        handle(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, runtime.config.http.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      runtime.onStop(() => closeServer(server));
      return (server.address() as AddressInfo).port;
    },
  };
}

/** Stops accepting and ends idle keep-alive connections (a scraper's), so a stop never waits on them. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
