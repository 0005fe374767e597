/** HTTP side of auth: the bearer-token middleware and the development token endpoint. */
import type { NextFunction, Request, Response, Router } from 'express';
import { devTokenBody } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { parseBody } from '../core/http-kit.js';
import type { TokenService } from './tokens.js';

/** Sets req.user from `Authorization: Bearer <jwt>`; no header means a guest (null). */
export function bearerAuth(tokens: TokenService) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (!header) {
      req.user = null;
      return next();
    }
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) return next(new AppError('UNAUTHORIZED', 'Authorization must be "Bearer <token>"'));
    try {
      req.user = await tokens.verify(match[1]);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** POST /api/dev/token { name, userId? } → { token, user }. Only mounted when DEV_TOKENS is on. */
export function mountDevTokens(router: Router, tokens: TokenService): void {
  router.post('/api/dev/token', async (req, res) => {
    const body = parseBody(devTokenBody, req.body);
    const user = { id: body.userId ?? newId('u_'), name: body.name };
    res.status(201).json({ token: await tokens.sign(user), user });
  });
}
