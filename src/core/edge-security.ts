/**
 * The HTTP and handshake edge: security headers (helmet, with a CSP the demo pages pass) and the
 * origin allow-list. Browsers send `Origin` on cross-origin requests and on every WebSocket
 * handshake; a request whose Origin is neither this server's own host nor in CORS_ORIGINS is
 * refused (403 over HTTP, a failed handshake for Socket.IO). Non-browser clients send no Origin
 * and are unaffected: tokens, not origins, authenticate them.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import cors from 'cors';
import helmet from 'helmet';

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // Product images live on merchants' hosts; video frames arrive as MediaStreams.
        imgSrc: ["'self'", 'https:', 'data:', 'blob:'],
        mediaSrc: ["'self'", 'blob:'],
        // 'self' covers ws:/wss: to the same host (CSP level 3).
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // No upgrade-insecure-requests: plain-HTTP deployments on a LAN would break.
      },
    },
  });
}

export class OriginPolicy {
  private readonly allowed: Set<string>;

  constructor(origins: string[]) {
    this.allowed = new Set(origins.map((o) => o.toLowerCase()));
  }

  /** Allowed: no Origin (not a browser, or a same-origin GET), our own host, or listed. */
  allows(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.allowed.has(origin.toLowerCase())) return true;
    let host: string;
    try {
      host = new URL(origin).host.toLowerCase();
    } catch {
      return false; // "null" (sandboxed frames, file://) and garbage
    }
    // Same origin: the page was served by this host (scheme may differ behind a TLS proxy).
    return host === (req.headers.host ?? '').toLowerCase();
  }

  /** Express: CORS headers for listed origins, 403 for foreign ones (preflights included). */
  http(): RequestHandler {
    // Browser WHIP clients must read the resource URL and entity tag of a 201 (RFC 9725).
    const withCors = cors({ origin: [...this.allowed], maxAge: 600, exposedHeaders: ['Location', 'ETag', 'Accept-Patch'] });
    return (req, res, next) => {
      if (!this.allows(req)) {
        res.status(403).json({ error: { code: 'FORBIDDEN', message: 'origin not allowed (CORS_ORIGINS)' } });
        return;
      }
      if (req.headers.origin !== undefined && this.allowed.has(req.headers.origin.toLowerCase())) return withCors(req, res, next);
      next();
    };
  }

  /** Socket.IO `allowRequest`: the handshake of a foreign origin fails. */
  readonly allowRequest = (req: IncomingMessage, done: (err: string | null | undefined, ok: boolean) => void): void => {
    done(null, this.allows(req));
  };
}
