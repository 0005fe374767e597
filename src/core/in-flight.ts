/**
 * What this node is still doing for its clients: socket handlers running and clean-up writes
 * (leave on disconnect) not yet done. A drain waits on it so every request that reached the
 * node is answered and every presence entry is removed before Redis is quit.
 */
export class InFlight {
  private running = 0;
  private waiters: (() => void)[] = [];
  private refusing = false;

  /** From now on `run` answers `refused` instead of starting new work (the node is draining). */
  refuseNew(): void {
    this.refusing = true;
  }

  get count(): number {
    return this.running;
  }

  /** A new request: run and count it, or answer `refused` at once while draining. */
  run<T>(fn: () => Promise<T>, refused: T): Promise<T> {
    if (this.refusing) return Promise.resolve(refused);
    return this.track(fn());
  }

  /** Work that must finish even while draining (a leave's Redis writes): count it, never refuse. */
  track<T>(work: Promise<T>): Promise<T> {
    this.running++;
    const done = () => {
      if (--this.running === 0) for (const wake of this.waiters.splice(0)) wake();
    };
    work.then(done, done);
    return work;
  }

  /** Resolves once nothing is running (at once if nothing is). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((ok) => this.waiters.push(ok));
  }
}
