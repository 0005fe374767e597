/**
 * A room's producers of other nodes, piped into this one (the edge side of the cascade,
 * cascade-edge.ts), as RoomMedia keeps them: each is held by the consumers of it here, and its
 * pipe is closed when the last of them goes. Concurrent first viewers of one producer share one
 * pipe request.
 */
import type { types as ms } from 'mediasoup';
import { notFound } from '../core/errors.js';

/** Another node's producer, piped in: held while this node's viewers consume it. */
export interface PipedProducer {
  producer: ms.Producer;
  /** The node it comes from. */
  origin: string;
  /** Consumers of it here (and consume requests under way); at 0 the pipe is closed. */
  refs: number;
}

export class PipedProducers {
  private readonly byId = new Map<string, PipedProducer>();
  /** Pipes being set up, so concurrent first viewers share one. */
  private readonly pipingIn = new Map<string, Promise<void>>();

  /** `pipeIn` asks the cascade to pipe a producer in (it comes back through `add`); without a
   * cascade, no producer of another node can be consumed here. */
  constructor(private readonly pipeIn: ((producerId: string) => Promise<void>) | null) {}

  get size(): number {
    return this.byId.size;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  has(producerId: string): boolean {
    return this.byId.has(producerId);
  }

  /** Take in a piped producer; it is forgotten when it closes. */
  add(producer: ms.Producer, origin: string): void {
    const rec: PipedProducer = { producer, origin, refs: 0 };
    this.byId.set(producer.id, rec);
    producer.observer.once('close', () => {
      if (this.byId.get(producer.id) === rec) this.byId.delete(producer.id);
    });
  }

  get(producerId: string): ms.Producer | undefined {
    return this.byId.get(producerId)?.producer;
  }

  from(origin: string): ms.Producer[] {
    return [...this.byId.values()].filter((p) => p.origin === origin).map((p) => p.producer);
  }

  /** The piped producer of this id, piped in first if it is not here yet; held until `release`. */
  async hold(producerId: string): Promise<PipedProducer> {
    let rec = this.byId.get(producerId);
    if (!rec) {
      if (!this.pipeIn) throw notFound('producer');
      let pending = this.pipingIn.get(producerId);
      if (!pending) {
        pending = this.pipeIn(producerId).finally(() => this.pipingIn.delete(producerId));
        this.pipingIn.set(producerId, pending);
      }
      await pending;
      rec = this.byId.get(producerId);
      if (!rec) throw notFound('producer');
    }
    rec.refs++;
    return rec;
  }

  /** The last consumer of a piped producer on this node went: close the pipe (cascade-edge.ts
   * tells the origin when the pipe transport closes). */
  release(rec: PipedProducer): void {
    rec.refs--;
    if (rec.refs > 0 || rec.producer.closed) return;
    if (this.byId.get(rec.producer.id) === rec) this.byId.delete(rec.producer.id);
    rec.producer.close();
  }
}
