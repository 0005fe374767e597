/**
 * What this node is still doing for its clients: socket handlers running and clean-up writes
 * (leave on disconnect) not yet done. A drain waits on it so every request that reached the
 * node is answered and every presence entry is removed before Redis is quit.
 */
export class InFlight {
  private running = 0;
  private waiters: (() => void)[] = [];
  private refusing = false;

  /** From now on `begin` refuses new requests (the node is draining). */
  refuseNew(): void {
    this.refusing = true;
  }

  get count(): number {
    return this.running;
  }

  /** A new request starts, counted until its `end`; false while draining: refuse it instead.
   * (Calls, not a wrapped promise: the socket router does this for every event.) */
  begin(): boolean {
    if (this.refusing) return false;
    this.running++;
    return true;
  }

  end(): void {
    if (--this.running === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Work that must finish even while draining (a leave's Redis writes): count it, never refuse. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running++;
    const done = () => this.end();
    work.then(done, done);
    return work;
  }

  /** Resolves once nothing is running (at once if nothing is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((ok) => this.waiters.push(ok));
  }
}
