/**
 * One connection's media in one room: at most one send and one receive WebRtcTransport, the
 * producers it published and the consumers it receives. Closing the peer closes its transports,
 * and mediasoup closes their producers and consumers with them, so a departed peer leaves
 * nothing in the router.
 */
import type { types as ms } from 'mediasoup';
import { AppError, notFound } from '../core/errors.js';
import type { RouterEntry } from './room-media.js';

export type Direction = 'send' | 'recv';

/** Camera, microphone, screen and its audio: more than that from one connection is abuse. */
export const MAX_PRODUCERS_PER_PEER = 4;

export interface PeerTransport {
  transport: ms.WebRtcTransport;
  direction: Direction;
  /** The router (and so the worker) the transport lives on. */
  entry: RouterEntry;
}

export class PeerMedia {
  private readonly transports = new Map<string, PeerTransport>();
  readonly producers = new Map<string, ms.Producer>();
  readonly consumers = new Map<string, ms.Consumer>();
  private readonly lost: string[] = [];
  closed = false;

  constructor(
    /** The Socket.IO socket id: per-peer notices are sent to it. */
    readonly id: string,
    readonly userId: string | null,
  ) {}

  /** Adopt a new transport. One per direction: a second one replaces (closes) the first, which is
   * how a client re-negotiates. A peer closed meanwhile (disconnect during the request) closes
   * the newcomer instead, so nothing leaks. */
  addTransport(transport: ms.WebRtcTransport, direction: Direction, entry: RouterEntry): void {
    if (this.closed) {
      transport.close();
      throw new AppError('NOT_IN_ROOM', 'left the room');
    }
    for (const t of this.transports.values()) if (t.direction === direction) t.transport.close();
    this.transports.set(transport.id, { transport, direction, entry });
    transport.observer.once('close', () => this.transports.delete(transport.id));
    // Only when the router under it closed (its worker died): the client must be told.
    transport.once('routerclose', () => this.lost.push(transport.id));
  }

  /** Transports lost with their router since the last call; the caller tells the client. */
  takeLostTransports(): string[] {
    return this.lost.splice(0);
  }

  transport(id: string, direction?: Direction): PeerTransport {
    const t = this.transports.get(id);
    if (!t || (direction && t.direction !== direction)) throw notFound(direction ? `${direction} transport` : 'transport');
    return t;
  }

  /** The given receive transport, or this peer's only one. */
  recvTransport(id?: string): PeerTransport {
    if (id) return this.transport(id, 'recv');
    for (const t of this.transports.values()) if (t.direction === 'recv') return t;
    throw new AppError('BAD_REQUEST', 'create a recv transport first');
  }

  addProducer(producer: ms.Producer): void {
    if (this.closed || this.producers.size >= MAX_PRODUCERS_PER_PEER) {
      producer.close();
      if (this.closed) throw new AppError('NOT_IN_ROOM', 'left the room');
      throw new AppError('LIMIT_EXCEEDED', `at most ${MAX_PRODUCERS_PER_PEER} producers per connection`);
    }
    this.producers.set(producer.id, producer);
    producer.observer.once('close', () => this.producers.delete(producer.id));
  }

  /** One consumer per producer: consuming a producer again replaces the earlier consumer. */
  addConsumer(consumer: ms.Consumer): void {
    if (this.closed) {
      consumer.close();
      throw new AppError('NOT_IN_ROOM', 'left the room');
    }
    for (const c of this.consumers.values()) if (c.producerId === consumer.producerId) c.close();
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => this.consumers.delete(consumer.id));
  }

  consumer(id: string): ms.Consumer {
    const c = this.consumers.get(id);
    if (!c) throw notFound('consumer');
    return c;
  }

  allTransports(): PeerTransport[] {
    return [...this.transports.values()];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of [...this.transports.values()]) t.transport.close();
  }
}
