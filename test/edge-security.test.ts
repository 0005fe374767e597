/**
 * The HTTP and handshake edge: security headers on every response, a CSP the demo pages can live
 * with, and the origin allow-list (CORS_ORIGINS) for HTTP and for the Socket.IO handshake.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { io as connectIo } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { closeAllSockets, devUser } from './helpers/clients.js';
import { startStack, TEST_SECRET, type Stack } from './helpers/stack.js';

const SHOP = 'https://shop.example';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ config: { CORS_ORIGINS: `${SHOP}, http://localhost:5173` } });
});
afterAll(async () => {
  closeAllSockets();
  await stack.stop();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(stack.url + path, { method, headers });

/** Connect with an Origin header (as a browser would); resolves 'connected' or the error message. */
function handshake(origin: string | null, transport: 'websocket' | 'polling'): Promise<string> {
  const socket = connectIo(stack.url, {
    transports: [transport],
    reconnection: false,
    forceNew: true,
    extraHeaders: origin ? { origin } : {},
  });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      // Resolve once the server has seen it go, so no disconnect is still in progress at stop().
      const serverSide = stack.servers[0]!.io.of('/').sockets.get(socket.id!);
      serverSide?.once('disconnect', () => resolve('connected'));
      socket.disconnect();
      if (!serverSide) resolve('connected');
    });
    socket.once('connect_error', (err) => {
      socket.disconnect();
      resolve(`refused: ${err.message}`);
    });
  });
}

describe('security headers', () => {
  it.each(['/healthz', '/api/rooms', '/no/such/page'])('%s carries CSP, nosniff, frame and referrer policies', async (path) => {
    const res = await get(path);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('the demo pages use no inline scripts or style attributes, which the CSP would block', () => {
    const dir = 'client-demo';
    const files = [
      ...readdirSync(dir).filter((f) => f.endsWith('.html')).map((f) => `${dir}/${f}`),
      ...readdirSync(`${dir}/src`).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/src/${f}`),
    ];
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(text)) offenders.push(`${file}: inline <script>`);
      if (/<style[\s>]/i.test(text) || /\sstyle="/i.test(text)) offenders.push(`${file}: inline style`);
      if (/\bstyle:\s*['"`](?!currency|decimal|percent|unit)/.test(text) || /setAttribute\(\s*['"]style['"]/.test(text)) offenders.push(`${file}: style attribute`);
      if (/\bon[a-z]+="/i.test(text)) offenders.push(`${file}: inline handler`);
    }
    expect(offenders).toEqual([]);
  });
});

describe('CORS over HTTP', () => {
  it('a foreign origin is refused with 403 JSON, preflight included', async () => {
    const res = await get('/api/rooms', { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/origin/) } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await get('/api/rooms', { origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS');
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    // An origin that only starts like an allowed one is still foreign.
    expect((await get('/api/rooms', { origin: `${SHOP}.evil.example` })).status).toBe(403);
    expect((await get('/api/rooms', { origin: 'null' })).status).toBe(403);
  });

  it('a listed origin gets CORS headers and a working preflight', async () => {
    const res = await get('/api/rooms', { origin: SHOP });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    const pre = await get('/api/rooms', { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }, 'OPTIONS');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
  });

  it('the same origin (the pages this server serves) and non-browser clients (no Origin) are allowed', async () => {
    expect((await get('/api/rooms', { origin: stack.url })).status).toBe(200);
    expect((await get('/api/rooms')).status).toBe(200);
    const user = await devUser(stack.url, 'NoOrigin');
    expect(user.token).toBeTruthy();
  });
});

describe('CORS for the Socket.IO handshake', () => {
  it.each(['websocket', 'polling'] as const)('over %s: a foreign origin cannot connect; listed, same and no origin can', async (transport) => {
    expect(await handshake('https://evil.example', transport)).toMatch(/^refused/);
    expect(await handshake(SHOP, transport)).toBe('connected');
    expect(await handshake(stack.url, transport)).toBe('connected');
    expect(await handshake(null, transport)).toBe('connected');
  });
});

describe('CORS_ORIGINS config', () => {
  it('accepts a comma-separated list of origins and refuses anything else', () => {
    const base = { JWT_SECRET: TEST_SECRET };
    expect(loadConfig({}, { ...base, CORS_ORIGINS: 'https://a.example, http://b.example:8080' }).CORS_ORIGINS).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(loadConfig({}, base).CORS_ORIGINS).toEqual([]);
    for (const bad of ['*', 'https://a.example/path', 'a.example', 'ftp://a.example']) {
      expect(() => loadConfig({}, { ...base, CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS/);
    }
  });
});
