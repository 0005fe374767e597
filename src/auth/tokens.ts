/** Signed HS256 JWTs carrying the user id (`sub`) and display name (`name`). */
import { SignJWT, jwtVerify } from 'jose';
import type { UserRef } from '../protocol/index.js';
import { idSchema } from '../protocol/index.js';
import { AppError } from '../core/errors.js';

export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly issuer: string,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(user: UserRef, ttl = '12h'): Promise<string> {
    return new SignJWT({ name: user.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuer(this.issuer)
      .setIssuedAt()
      .setExpirationTime(ttl)
      .sign(this.key);
  }

  /** The user a token names, or UNAUTHORIZED with the reason. */
  async verify(token: string): Promise<UserRef> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: this.issuer, algorithms: ['HS256'] });
      const id = idSchema.safeParse(payload.sub);
      const name = typeof payload.name === 'string' ? payload.name.trim().slice(0, 40) : '';
      if (!id.success || !name) throw new AppError('UNAUTHORIZED', 'token lacks a valid sub or name');
      return { id: id.data, name };
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('UNAUTHORIZED', `invalid token: ${(err as Error).message}`);
    }
  }
}
