/**
 * The event router with every answer observed: ack latency and error codes into the socket
 * metrics, and a (budgeted) log line for each refused privileged action. A subclass rather than
 * code inside the router, so the router stays about validation and limits.
 */
import type { Ack } from '../protocol/index.js';
import { PRIVILEGE_CODES, socketFields, type RefusalLog } from './request-context.js';
import { EventRouter, type LiveSocket } from './socket-kit.js';
import { eventLabel, type SocketMetrics } from './socket-metrics.js';

export interface EventObservers {
  metrics: SocketMetrics;
  refusals: RefusalLog;
}

export class ObservedEventRouter extends EventRouter {
  observers: EventObservers | null = null;

  protected override answered(socket: LiveSocket, event: unknown, res: Ack<unknown>, startedMs: number): void {
    if (!this.observers) return;
    this.observers.metrics.observeEvent(event, res, (performance.now() - startedMs) / 1000);
    if (!res.ok && PRIVILEGE_CODES.has(res.error.code)) {
      this.observers.refusals.refused({ ...socketFields(socket), event: eventLabel(event), code: res.error.code, reason: res.error.message });
    }
  }
}
