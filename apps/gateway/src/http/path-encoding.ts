import type { NextFunction, Request, Response } from 'express';
import { ChorusError } from '@chorus/protocol';

/**
 * Refuses a URL path that is not valid percent-encoded UTF-8 (`/sessions/%FF`, an encoded lone surrogate)
 * before routing. Express would throw a URIError while decoding the parameter, which Nest turns into an
 * anonymous 400 indistinguishable from a malformed body; here it gets its own field and advice.
 */
export function refuseUndecodablePath(req: Request, _res: Response, next: NextFunction): void {
  const url = req.originalUrl ?? req.url ?? '';
  const path = url.split('?', 1)[0];
  if (path.includes('%')) {
    try {
      for (const segment of path.split('/')) decodeURIComponent(segment);
    } catch {
      next(ChorusError.validation('path', 'The URL path is not valid percent-encoded UTF-8; encode each segment with encodeURIComponent.'));
      return;
    }
  }
  next();
}
