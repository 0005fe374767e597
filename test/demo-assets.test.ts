/**
 * How the built demo pages are delivered: pre-compressed (brotli preferred, gzip for clients that
 * only take that, identity for the rest), hashed assets cached for a year as immutable, HTML
 * revalidated on every visit, and the viewer page's first load within its 150 KB budget.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMMUTABLE, REVALIDATE } from '../src/core/demo-static.js';
import { startStack, type Stack } from './helpers/stack.js';
import { buildDemo } from './e2e/browser.js';

/** The budget for viewer.html's first load, compressed, everything it loads before any click. */
const VIEWER_FIRST_LOAD_MAX = 150 * 1024;

let stack: Stack;
let demo: Awaited<ReturnType<typeof buildDemo>>;

beforeAll(async () => {
  demo = await buildDemo();
  stack = await startStack({ config: { DEMO_DIR: demo.dir, MEDIA_ENABLED: 'false' } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await demo?.remove();
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The bytes on the wire, still encoded. */
  body: Buffer;
}

/** node:http, not fetch: fetch decodes the body, and the test is about the encoded bytes. */
function get(path: string, acceptEncoding: string): Promise<Raw> {
  return new Promise((ok, fail) => {
    const req = httpRequest(new URL(path, stack.url), { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

/** What a page loads before anything is clicked: its scripts, module preloads and stylesheets. */
function firstLoadAssets(html: string): string[] {
  const urls = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  return [...new Set(urls)];
}

describe('demo assets', () => {
  it('pages are brotli/gzip-encoded by what the browser accepts and always revalidated', async () => {
    for (const page of ['/', '/viewer.html', '/host.html', '/moderator.html']) {
      const br = await get(page, 'gzip, deflate, br');
      expect(br.status, page).toBe(200);
      expect(br.headers['content-encoding'], page).toBe('br');
      expect(br.headers['content-type'], page).toMatch(/^text\/html/);
      expect(br.headers['cache-control'], page).toBe(REVALIDATE);
      expect(br.headers.vary, page).toMatch(/Accept-Encoding/i);

      const gz = await get(page, 'gzip');
      expect(gz.headers['content-encoding'], page).toBe('gzip');
      const plain = await get(page, 'identity');
      expect(plain.headers['content-encoding'], page).toBeUndefined();
      expect(br.body.length).toBeLessThan(plain.body.length);
      expect(gz.body.length).toBeLessThan(plain.body.length);
    }
  });

  it('hashed assets are immutable for a year; the viewer first load is ≤ 150 KB compressed', async () => {
    const html = await get('/viewer.html', 'br');
    const assets = firstLoadAssets((await get('/viewer.html', 'identity')).body.toString());
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    let compressed = html.body.length;
    let raw = (await get('/viewer.html', 'identity')).body.length;
    const rows: string[] = [];
    for (const asset of assets) {
      const br = await get(asset, 'gzip, deflate, br');
      expect(br.status, asset).toBe(200);
      expect(br.headers['cache-control'], asset).toBe(IMMUTABLE);
      expect(br.headers['content-encoding'], asset).toBe('br');
      const plain = await get(asset, 'identity');
      expect(plain.headers['cache-control'], asset).toBe(IMMUTABLE);
      compressed += br.body.length;
      raw += plain.body.length;
      rows.push(`${asset} ${plain.body.length} → ${br.body.length}`);
    }
    console.log(`viewer first load: ${assets.length + 1} files, ${raw} B raw, ${compressed} B brotli\n  ${rows.join('\n  ')}`);
    expect(compressed).toBeLessThanOrEqual(VIEWER_FIRST_LOAD_MAX);
  });

  it('a missing file is still a JSON 404, not an HTML page', async () => {
    const res = await get('/assets/nope-123.js', 'br');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/json/);
  });
});
