/**
 * Signed HS256 JWTs carrying the user id (`sub`) and display name (`name`). Every token must
 * expire (`exp`), and within `maxLifetimeS` of being issued: a leaked token is worth a bounded
 * time. With an audience configured, `aud` must name it (tokens minted for another service of the
 * same issuer are refused).
 */
import { SignJWT, jwtVerify } from 'jose';
import type { UserRef } from '../protocol/index.js';
import { idSchema } from '../protocol/index.js';
import { AppError } from '../core/errors.js';
import { normaliseDisplayName } from '../protocol/text.js';

/** Longer tokens are refused before any parsing. */
export const MAX_TOKEN_CHARS = 4096;

/** How far ahead of this server's clock a token's `iat` may be (clocks of issuers drift a little). */
export const CLOCK_SKEW_S = 60;

export interface TokenOptions {
  /** Expected (and, when signing, set) `aud`. Unset: `aud` is not checked. */
  audience?: string;
  /** Longest accepted `exp - min(iat, now)`, seconds; an `iat` more than CLOCK_SKEW_S ahead is refused. */
  maxLifetimeS?: number;
}

export interface VerifiedToken {
  user: UserRef;
  /** `exp` in epoch ms: a socket authenticated by this token is closed then. */
  expiresAt: number;
}

export class TokenService {
  private readonly key: Uint8Array;
  private readonly maxLifetimeS: number;

  constructor(
    secret: string,
    private readonly issuer: string,
    private readonly opts: TokenOptions = {},
  ) {
    this.key = new TextEncoder().encode(secret);
    this.maxLifetimeS = opts.maxLifetimeS ?? 24 * 3600;
  }

  /** A token for `user`, valid `ttlS` seconds (default 12 h), never longer than the maximum lifetime. */
  async sign(user: UserRef, ttlS = 12 * 3600): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ name: user.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuer(this.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + Math.max(1, Math.min(ttlS, this.maxLifetimeS)));
    if (this.opts.audience) jwt.setAudience(this.opts.audience);
    return jwt.sign(this.key);
  }

  /** The user a token names, or UNAUTHORIZED with the reason. */
  async verify(token: string): Promise<UserRef> {
    return (await this.verifySession(token)).user;
  }

  async verifySession(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_CHARS) throw new AppError('UNAUTHORIZED', `token longer than ${MAX_TOKEN_CHARS} characters`);
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: this.issuer,
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
        ...(this.opts.audience ? { audience: this.opts.audience } : {}),
      });
      const exp = payload.exp!;
      const nowS = Math.floor(Date.now() / 1000);
      // A future iat would let `exp - iat` stay small while exp is years away: beyond a little
      // clock skew it is refused, and the lifetime always counts from now at the latest.
      if (payload.iat !== undefined && payload.iat > nowS + CLOCK_SKEW_S) {
        throw new AppError('UNAUTHORIZED', `token iat is in the future (more than ${CLOCK_SKEW_S} s ahead)`);
      }
      const from = Math.min(payload.iat ?? nowS, nowS);
      if (exp - from > this.maxLifetimeS) {
        throw new AppError('UNAUTHORIZED', `token lifetime over ${this.maxLifetimeS} s (TOKEN_MAX_LIFETIME_S)`);
      }
      const id = idSchema.safeParse(payload.sub);
      const name = typeof payload.name === 'string' ? normaliseDisplayName(payload.name) : '';
      if (!id.success || !name) throw new AppError('UNAUTHORIZED', 'token lacks a valid sub or name');
      return { user: { id: id.data, name }, expiresAt: exp * 1000 };
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('UNAUTHORIZED', `invalid token: ${(err as Error).message}`);
    }
  }
}
