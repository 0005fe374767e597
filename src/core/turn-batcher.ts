/**
 * Batching per event-loop turn, the shape shared by the rush paths (flash-sale reserves, bids,
 * heart taps, giveaway entries): the requests for one key (a sale, a lot, a room, a giveaway) that
 * arrive in the same event-loop turn go to Redis as ONE call, made by the caller's `send`, which
 * answers each request in order (the script decides them one after the other, as separate calls
 * would). No request waits for another: the batch leaves at the end of the turn it arrived in
 * (setImmediate); a key that brings more than `maxPerCall` requests in one turn gets one call per
 * `maxPerCall`, sent in arrival order.
 *
 * Kept cheap per request, since the reserve path runs it thousands of times a second: a request
 * costs its promise and a few array slots (the batch keeps callers in parallel arrays, and the
 * request itself as the caller gives it — typically the script's own argument string); the batch
 * the previous request went to is tried first, so a rush on one key makes no map lookup and
 * builds no key string per request.
 *
 * What stays with the caller: the connection (the batchers use a dedicated one without
 * auto-pipelining, which would hold a batch one more turn), the script's keys and arguments, the
 * decoding of its reply, metrics and deadlines.
 */

/** An answer that refuses its request: `send` puts it in a request's slot to reject that caller
 * with `error` (keep one per kind of refusal: a refusal answered thousands of times is one object). */
export class Refusal {
  constructor(readonly error: unknown) {}
}

/** The requests for one key, in arrival order, with their callers. */
export interface TurnBatch<I, T> {
  /** The two parts of the key: a room and a thing in it ('' for the room itself). */
  readonly scope: string;
  readonly id: string;
  readonly items: I[];
  readonly resolve: ((value: T) => void)[];
  readonly reject: ((err: unknown) => void)[];
}

/**
 * Makes the one call for a batch: resolves with one answer per request, in the same order (a
 * Refusal rejects that request's caller). A failed call (rejected promise) rejects every caller
 * of the batch with its error.
 */
export type TurnSender<I, T> = (batch: TurnBatch<I, T>) => Promise<ArrayLike<T | Refusal>>;

/** The UNAVAILABLE a request gets when it arrives after close() (the message is one
 * isRedisUnavailable recognises, as the closed connection's own error would be). */
export const BATCHER_CLOSED_MESSAGE = 'Connection is closed: the batcher was closed';

export class TurnBatcher<I, T> {
  /** `scope\nid` → the batch filling up this turn (a full one is already in `full`). */
  private readonly open = new Map<string, TurnBatch<I, T>>();
  private full: TurnBatch<I, T>[] = [];
  /** The batch the previous request went to: in a rush, nearly every request goes to the same one. */
  private last: TurnBatch<I, T> | null = null;
  private scheduled = false;
  private closed = false;
  private readonly flushNow = () => this.flush();

  constructor(
    private readonly maxPerCall: number,
    private readonly send: TurnSender<I, T>,
  ) {}

  /** Adds a request for the key (`scope`, `id`): answered from the call its batch makes at the
   * end of this turn. */
  add(scope: string, id: string, item: I): Promise<T> {
    if (this.closed) return Promise.reject(new Error(BATCHER_CLOSED_MESSAGE));
    let batch = this.last;
    if (batch === null || batch.id !== id || batch.scope !== scope) {
      const key = `${scope}\n${id}`;
      batch = this.open.get(key) ?? null;
      if (batch === null) {
        batch = { scope, id, items: [], resolve: [], reject: [] };
        this.open.set(key, batch);
      }
      this.last = batch;
    }
    batch.items.push(item);
    const b = batch;
    const promise = new Promise<T>((resolve, reject) => {
      b.resolve.push(resolve);
      b.reject.push(reject);
    });
    if (batch.items.length >= this.maxPerCall) {
      this.full.push(batch);
      this.open.delete(`${scope}\n${id}`);
      this.last = null;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    return promise;
  }

  /**
   * Stops taking requests: later ones, and those still waiting for the end of this turn, are
   * refused (UNAVAILABLE); calls already made answer as their connection does (the caller closes it).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new Error(BATCHER_CLOSED_MESSAGE);
    for (const batch of this.take()) for (const fail of batch.reject) fail(err);
  }

  private flush(): void {
    this.scheduled = false;
    for (const batch of this.take()) void this.call(batch);
  }

  /** Every batch waiting, full ones first (they filled up first), and forgets them. */
  private take(): TurnBatch<I, T>[] {
    this.last = null;
    const batches = this.full;
    this.full = [];
    for (const batch of this.open.values()) batches.push(batch);
    this.open.clear();
    return batches;
  }

  private async call(batch: TurnBatch<I, T>): Promise<void> {
    let answers: ArrayLike<T | Refusal>;
    try {
      answers = await this.send(batch);
    } catch (err) {
      for (const fail of batch.reject) fail(err);
      return;
    }
    const { resolve, reject } = batch;
    for (let i = 0; i < resolve.length; i++) {
      const answer = answers[i] as T | Refusal;
      if (answer instanceof Refusal) reject[i]!(answer.error);
      else resolve[i]!(answer);
    }
  }
}
