/**
 * The mediasoup worker pool: one worker process per core (by default), each with a WebRtcServer so
 * every WebRTC transport of that worker shares one UDP and one TCP port. A worker that dies is
 * replaced in the same slot (same ports); the rooms that had routers on it learn about it from
 * their routers closing (room-media.ts), not from here.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface WorkerPoolOptions {
  workers: number;
  listenIp: string;
  announcedAddress?: string;
  /** Worker i listens on BASE+i (UDP and TCP); 0: any free port of the RTC range. */
  portBase: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel?: ms.WorkerLogLevel;
}

/** Load of one worker process, counted from mediasoup's observer events. A fresh object per
 * process so late close events of a dead worker cannot skew its replacement's counts. */
export interface WorkerLoad {
  routers: number;
  consumers: number;
}

export interface WorkerSlot {
  readonly index: number;
  worker: ms.Worker;
  webRtcServer: ms.WebRtcServer;
  load: WorkerLoad;
  /** For CPU percentages: the previous getResourceUsage sample of this process. */
  cpuSample: { cpuMs: number; at: number; percent: number };
}

export interface WorkerUsage {
  cpuPercent: number;
  /** Peak resident set size (ru_maxrss). */
  memoryBytes: number;
}

type PoolEvents = {
  died: [slot: WorkerSlot, error: Error];
  replaced: [slot: WorkerSlot, oldPid: number];
};

const RESPAWN_MIN_MS = 500;
const RESPAWN_MAX_MS = 30_000;
/** Samples closer together than this reuse the last CPU figure (a delta over a few ms is noise). */
const CPU_SAMPLE_MIN_MS = 250;

const freshCpuSample = () => ({ cpuMs: 0, at: performance.now(), percent: 0 });

export class WorkerPool extends EventEmitter<PoolEvents> {
  private readonly slots: WorkerSlot[] = [];
  private closed = false;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  /** Workers replaced since start, for /metrics. */
  replacements = 0;

  private constructor(
    private readonly opts: WorkerPoolOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  static async start(opts: WorkerPoolOptions, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(opts, log);
    try {
      for (let i = 0; i < opts.workers; i++) {
        const { worker, webRtcServer } = await pool.spawn(i);
        const slot: WorkerSlot = { index: i, worker, webRtcServer, load: pool.countLoad(worker), cpuSample: freshCpuSample() };
        pool.slots.push(slot);
        pool.watch(slot);
      }
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  get all(): readonly WorkerSlot[] {
    return this.slots;
  }

  /** The live worker with the fewest consumers (then routers), skipping `exclude`; null when
   * every live worker is excluded. Throws UNAVAILABLE when no worker is alive at all. */
  leastLoaded(exclude: ReadonlySet<WorkerSlot> = new Set()): WorkerSlot | null {
    const alive = this.slots.filter((s) => !s.worker.closed);
    if (alive.length === 0) throw new AppError('UNAVAILABLE', 'no media worker is running, try again');
    let best: WorkerSlot | null = null;
    for (const s of alive) {
      if (exclude.has(s)) continue;
      if (!best || s.load.consumers < best.load.consumers || (s.load.consumers === best.load.consumers && s.load.routers < best.load.routers)) {
        best = s;
      }
    }
    return best;
  }

  /** CPU since the previous sample (percent of one core) and peak memory of a worker process. */
  async usage(slot: WorkerSlot): Promise<WorkerUsage> {
    const worker = slot.worker;
    if (worker.closed) return { cpuPercent: 0, memoryBytes: 0 };
    const ru = await worker.getResourceUsage();
    const cpuMs = ru.ru_utime + ru.ru_stime;
    const now = performance.now();
    const prev = slot.cpuSample;
    if (slot.worker === worker && now - prev.at >= CPU_SAMPLE_MIN_MS) {
      slot.cpuSample = { cpuMs, at: now, percent: Math.max(0, ((cpuMs - prev.cpuMs) / (now - prev.at)) * 100) };
    }
    // ru_maxrss is in kilobytes on Linux.
    return { cpuPercent: slot.cpuSample.percent, memoryBytes: ru.ru_maxrss * 1024 };
  }

  close(): void {
    this.closed = true;
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    for (const s of this.slots) {
      s.worker.removeAllListeners('died');
      s.worker.close();
    }
  }

  private async spawn(index: number): Promise<{ worker: ms.Worker; webRtcServer: ms.WebRtcServer }> {
    const { opts } = this;
    const worker = await mediasoup.createWorker({ logLevel: opts.logLevel ?? 'warn', appData: { index } });
    try {
      const listen = (protocol: 'udp' | 'tcp'): ms.TransportListenInfo => ({
        protocol,
        ip: opts.listenIp,
        ...(opts.announcedAddress ? { announcedAddress: opts.announcedAddress } : {}),
        ...(opts.portBase > 0 ? { port: opts.portBase + index } : { portRange: { min: opts.rtcMinPort, max: opts.rtcMaxPort } }),
      });
      const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
      this.log.info({ index, pid: worker.pid }, 'mediasoup worker started');
      return { worker, webRtcServer };
    } catch (err) {
      worker.close();
      throw err;
    }
  }

  private watch(slot: WorkerSlot): void {
    const worker = slot.worker;
    worker.on('died', (error) => this.onDied(slot, worker, error));
  }

  private countLoad(worker: ms.Worker): WorkerLoad {
    const load: WorkerLoad = { routers: 0, consumers: 0 };
    worker.observer.on('newrouter', (router) => {
      load.routers++;
      router.observer.once('close', () => load.routers--);
      router.observer.on('newtransport', (transport) => {
        transport.observer.on('newconsumer', (consumer) => {
          load.consumers++;
          consumer.observer.once('close', () => load.consumers--);
        });
      });
    });
    return load;
  }

  private onDied(slot: WorkerSlot, worker: ms.Worker, error: Error): void {
    if (this.closed || slot.worker !== worker) return;
    this.log.error({ index: slot.index, pid: worker.pid, err: error.message }, 'mediasoup worker died; replacing it');
    this.emit('died', slot, error);
    this.respawn(slot, worker.pid, RESPAWN_MIN_MS, true);
  }

  /** Replace the slot's worker; on failure retry with exponential backoff until the pool closes. */
  private respawn(slot: WorkerSlot, oldPid: number, delayMs: number, immediately: boolean): void {
    const attempt = async () => {
      if (this.closed) return;
      try {
        const { worker, webRtcServer } = await this.spawn(slot.index);
        if (this.closed) {
          worker.close();
          return;
        }
        Object.assign(slot, { worker, webRtcServer, load: this.countLoad(worker), cpuSample: freshCpuSample() });
        this.watch(slot);
        this.replacements++;
        this.emit('replaced', slot, oldPid);
      } catch (err) {
        this.log.error({ index: slot.index, err }, 'could not start a replacement mediasoup worker; retrying');
        this.respawn(slot, oldPid, Math.min(delayMs * 2, RESPAWN_MAX_MS), false);
      }
    };
    if (immediately) {
      void attempt();
      return;
    }
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      void attempt();
    }, delayMs);
    this.respawnTimers.add(timer);
  }
}
