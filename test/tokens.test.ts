/**
 * Tokens at the edges: `exp` is required and bounded by TOKEN_MAX_LIFETIME_S, `aud` is checked
 * when JWT_AUDIENCE is set, oversized tokens get a clear error, and a socket whose token expires
 * is told (`auth:expired`) and disconnected, after which a fresh token connects again.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAllSockets, connect, devUser, http, liveRoom, nextEvent, ok, type TestUser } from './helpers/clients.js';
import { startStack, TEST_SECRET, type Stack } from './helpers/stack.js';

let plain: Stack;
let withAudience: Stack;
const key = new TextEncoder().encode(TEST_SECRET);
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  [plain, withAudience] = await Promise.all([startStack(), startStack({ config: { JWT_AUDIENCE: 'live-api', TOKEN_MAX_LIFETIME_S: '3600' } })]);
});
afterAll(async () => {
  closeAllSockets();
  await Promise.all([plain?.stop(), withAudience?.stop()]);
});

function token(claims: { exp?: number; iat?: number; aud?: string; name?: string } = {}) {
  const jwt = new SignJWT({ name: claims.name ?? 'Tess' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u_tess').setIssuer('live-commerce');
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  if (claims.aud !== undefined) jwt.setAudience(claims.aud);
  return jwt.sign(key);
}

/** The connect_error data a token gets, or 'connected'. */
async function handshake(url: string, t: string): Promise<unknown> {
  try {
    const s = await connect(url, { id: 'x', name: 'x', token: t });
    s.disconnect();
    return 'connected';
  } catch (err) {
    return (err as { data?: unknown }).data;
  }
}

/** HTTP status and body for a signed-in request. */
const whoami = (url: string, t: string) => http(url, 'POST', '/api/rooms', t, { title: 'Token check' });

describe('token claims', () => {
  it('a token without exp is refused over HTTP and the socket handshake', async () => {
    const t = await token({ iat: now() });
    expect(await handshake(plain.url, t)).toEqual({ code: 'UNAUTHORIZED', message: expect.stringMatching(/exp/) });
    expect((await whoami(plain.url, t)).status).toBe(401);
  });

  it('a lifetime over TOKEN_MAX_LIFETIME_S (default 24 h) is refused, with or without iat', async () => {
    for (const t of [await token({ iat: now(), exp: now() + 2 * 86400 }), await token({ exp: now() + 2 * 86400 })]) {
      expect(await handshake(plain.url, t)).toEqual({ code: 'UNAUTHORIZED', message: expect.stringMatching(/lifetime/) });
      expect((await whoami(plain.url, t)).body.error.message).toMatch(/TOKEN_MAX_LIFETIME_S/);
    }
    expect(await handshake(plain.url, await token({ iat: now(), exp: now() + 3600 }))).toBe('connected');
  });

  it('an iat in the future cannot stretch the lifetime cap; one beyond the clock skew is refused', async () => {
    // exp - iat is only 10 min, but the token is valid for 10 years from now.
    const far = now() + 10 * 365 * 86400;
    const t = await token({ iat: far, exp: far + 600 });
    expect(await handshake(plain.url, t)).toEqual({ code: 'UNAUTHORIZED', message: expect.stringMatching(/iat|lifetime/) });
    expect((await whoami(plain.url, t)).status).toBe(401);
    // A token issued 2 hours ahead, short-lived: refused for its iat alone.
    const ahead = await token({ iat: now() + 7200, exp: now() + 7200 + 60 });
    expect(await handshake(plain.url, ahead)).toEqual({ code: 'UNAUTHORIZED', message: expect.stringMatching(/iat.*future/) });
    // A few seconds of clock skew are fine.
    expect(await handshake(plain.url, await token({ iat: now() + 5, exp: now() + 600 }))).toBe('connected');
  });

  it('tokens over 4,096 characters get a clear error', async () => {
    const t = `${await token({ iat: now(), exp: now() + 60 })}${'a'.repeat(4100)}`;
    expect(await handshake(plain.url, t)).toEqual({ code: 'UNAUTHORIZED', message: 'token longer than 4096 characters' });
    expect((await whoami(plain.url, t)).body.error.message).toBe('token longer than 4096 characters');
  });

  it('with JWT_AUDIENCE, aud must name it; dev tokens carry it', async () => {
    const fine = { iat: now(), exp: now() + 600 };
    expect(await handshake(withAudience.url, await token(fine))).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/aud/) });
    expect(await handshake(withAudience.url, await token({ ...fine, aud: 'other-api' }))).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await handshake(withAudience.url, await token({ ...fine, aud: 'live-api' }))).toBe('connected');
    const dev = await devUser(withAudience.url, 'Aud');
    expect(decode(dev.token)).toMatchObject({ aud: 'live-api' });
    expect(await handshake(withAudience.url, dev.token)).toBe('connected');
    // Without JWT_AUDIENCE, aud is not checked.
    expect(await handshake(plain.url, await token({ ...fine, aud: 'anything' }))).toBe('connected');
  });

  it('dev tokens carry exp within the maximum lifetime', async () => {
    for (const [stack, max] of [[plain, 86400], [withAudience, 3600]] as const) {
      const claims = decode((await devUser(stack.url, 'Dev')).token);
      expect(claims.exp).toBeGreaterThan(now());
      expect(claims.exp - claims.iat).toBeLessThanOrEqual(max);
    }
  });
});

describe('expiry of a connected socket', () => {
  it('a socket is told auth:expired and disconnected when its token runs out; a new token reconnects', async () => {
    const { roomId } = await liveRoom(plain.url, 'Expiry');
    const server = plain.servers[0]!;
    const user = { id: 'u_shortlived', name: 'Brief' };
    const short: TestUser = { ...user, token: await server.tokens.sign(user, 2) };
    const socket = await connect(plain.url, short);
    await ok(socket, 'room:join', { roomId });
    const reason = new Promise<string>((resolve) => socket.once('disconnect', (r) => resolve(r)));
    const expired = await nextEvent(socket, 'auth:expired', () => true, 15_000);
    expect(expired.expiredAt).toBe(decode(short.token).exp * 1000);
    expect(await reason).toBe('io server disconnect');
    expect(Date.now()).toBeGreaterThanOrEqual(expired.expiredAt);

    const fresh = await connect(plain.url, { ...user, token: await server.tokens.sign(user, 600) });
    expect((await ok(fresh, 'room:join', { roomId })).you).toEqual(user);
  });
});

function decode(jwt: string): { exp: number; iat: number; aud?: string } {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
}
