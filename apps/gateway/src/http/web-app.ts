import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { INestApplication, LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/** The app's own pages: everything else (the API, health, metrics, Socket.IO, API docs) is left alone. */
const APP_PAGES = /^\/(?:join\/[^/]+|s\/[^/]+)?$/;

/**
 * Serves the built browser app (WEB_APP): hashed files under /assets/ cached for a year (their names change with
 * their content), and index.html for the app's pages, revalidated on every load so a new build is picked up at
 * once. The invite page's URL carries the invite's secret token: no Referer leaves it. Returns whether the app is
 * served; a missing build is logged, and the gateway serves the API only.
 */
export function serveWebApp(app: INestApplication, dir: string, logger: LoggerService): boolean {
  const root = resolve(dir);
  const index = join(root, 'index.html');
  if (!existsSync(index)) {
    logger.warn(`WEB_APP is on but ${index} does not exist (npm run build writes it): serving the API only`, 'WebApp');
    return false;
  }
  (app as NestExpressApplication).useStaticAssets(join(root, 'assets'), { prefix: '/assets/', index: false, immutable: true, maxAge: '365d' });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !APP_PAGES.test(req.path)) return next();
    res.sendFile(index, {
      cacheControl: false,
      headers: { 'Cache-Control': 'no-cache', 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' },
    });
  });
  logger.log(`Serving the browser app from ${root} at /`, 'WebApp');
  return true;
}
