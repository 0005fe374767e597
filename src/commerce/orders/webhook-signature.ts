/**
 * The webhook signature: `v1=` + hex HMAC-SHA256(secret, `<timestamp>.<raw body>`), timestamp in
 * unix seconds (header x-webhook-timestamp). Signing the timestamp with the body lets a receiver
 * refuse an old delivery replayed by someone who captured it. `verifyWebhook` is what a receiver
 * does (docs/PROTOCOL.md shows the same in a few lines); the tests' receiver uses it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** True when `signature` is this body's at this timestamp and the timestamp is within `toleranceSec` of now. */
export function verifyWebhook(
  secret: string,
  body: string,
  timestampHeader: string | undefined,
  signature: string | undefined,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1000),
): boolean {
  const timestamp = Number(timestampHeader);
  if (!signature || !Number.isInteger(timestamp) || Math.abs(nowSec - timestamp) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
