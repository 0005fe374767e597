/**
 * The built demo pages at `/`. Vite writes every asset as `.gz` and `.br` beside the original at
 * build time (client-demo/vite.config.ts), so the server only picks the smallest encoding the
 * browser accepts and never compresses per request. Caching follows what Vite's file names say:
 * `/assets/*` carry a content hash, so a changed file is a new URL and the old one may be kept
 * for a year; the HTML pages keep their names, so browsers must revalidate them every time.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type { RequestHandler } from 'express';
import expressStaticGzip from 'express-static-gzip';
import type { Logger } from './logger.js';

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

export function demoStatic(demoDir: string, log: Logger): RequestHandler {
  const dir = resolve(demoDir);
  if (!existsSync(dir)) log.warn({ dir }, 'DEMO_DIR does not exist; demo pages not served');
  const assets = resolve(dir, 'assets') + sep;
  return expressStaticGzip(dir, {
    enableBrotli: true,
    orderPreference: ['br', 'gzip'],
    serveStatic: {
      // Our own Cache-Control below; serve-static's default would be max-age=0 for everything.
      cacheControl: false,
      setHeaders(res, path) {
        // `path` is the file sent, possibly `x.js.br`: judge by the original file's place.
        const hashed = (dirname(path) + sep).startsWith(assets);
        res.setHeader('Cache-Control', hashed ? IMMUTABLE : REVALIDATE);
      },
    },
  }) as RequestHandler;
}
