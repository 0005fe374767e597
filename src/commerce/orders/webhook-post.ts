/**
 * One webhook attempt: the order as a signed JSON POST (docs/PROTOCOL.md, *Order webhooks*) and
 * what came of it. Only a 2xx counts as delivered; redirects are not followed (a 3xx is a
 * failure: a receiver that moved must be reconfigured, not followed blindly with the signature).
 */
import {
  WEBHOOK_ATTEMPT_HEADER,
  WEBHOOK_IDEMPOTENCY_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type Order,
  type WebhookEvent,
} from '../../protocol/index.js';
import { signWebhook } from './webhook-signature.js';

export type AttemptOutcome = 'delivered' | 'http_error' | 'timeout' | 'network_error';

export interface WebhookTarget {
  url: string;
  secret: string;
  timeoutMs: number;
}

/** POSTs the order; never throws. `abort` also ends it early (the node is stopping). */
export async function postOrder(target: WebhookTarget, order: Order, attempt: number, abort: AbortController): Promise<AttemptOutcome> {
  const event: WebhookEvent = { id: order.orderId, type: 'order.created', order };
  const body = JSON.stringify(event);
  const timestamp = Math.floor(Date.now() / 1000);
  const timer = setTimeout(() => abort.abort(), target.timeoutMs);
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'live-commerce-webhooks/1',
        [WEBHOOK_IDEMPOTENCY_HEADER]: order.orderId,
        [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
        [WEBHOOK_SIGNATURE_HEADER]: signWebhook(target.secret, timestamp, body),
        [WEBHOOK_ATTEMPT_HEADER]: String(attempt),
      },
      body,
      signal: abort.signal,
      redirect: 'manual',
    });
    await res.arrayBuffer().catch(() => undefined); // read to the end: frees the connection
    return res.status >= 200 && res.status < 300 ? 'delivered' : 'http_error';
  } catch {
    return abort.signal.aborted ? 'timeout' : 'network_error';
  } finally {
    clearTimeout(timer);
  }
}
