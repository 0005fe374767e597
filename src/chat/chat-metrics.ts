/**
 * Chat metrics: messages by outcome (ok, MUTED, SLOW_MODE, BLOCKED_WORD, RATE_LIMITED, ...).
 * Moderation actions are rare and already counted per event by socket_event_duration_seconds.
 */
import type { Registry } from 'prom-client';
import { counter } from '../core/metrics.js';

export function chatMetrics(registry: Registry) {
  return {
    messages: counter(registry, 'chat_messages_total', 'chat:send requests on this node, by outcome (ok or error code)', ['outcome']),
  };
}

export type ChatMetrics = ReturnType<typeof chatMetrics>;
