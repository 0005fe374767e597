/**
 * Media numbers for the host dashboard (media:stats: per room the bitrate in and out and the
 * consumers) and for Prometheus (/metrics: the same summed over the node's rooms, and per worker
 * CPU (getResourceUsage deltas) and memory).
 * Everything is read from mediasoup when asked, so nothing is sampled while nobody looks.
 */
import { Gauge, type Registry } from 'prom-client';
import type { types as ms } from 'mediasoup';
import type { MediaRoomStats, MediaWorkerStats } from '../protocol/index.js';
import type { RoomMedia } from './room-media.js';
import type { WorkerPool } from './worker-pool.js';

interface BaseTransportStats {
  recvBitrate?: number;
  sendBitrate?: number;
}

async function bitrates(transports: ms.Transport[], field: 'recvBitrate' | 'sendBitrate'): Promise<number> {
  const all = await Promise.all(
    transports.map((t) => (t.closed ? Promise.resolve([]) : t.getStats().catch(() => [] as unknown[]))),
  );
  let sum = 0;
  for (const stats of all) for (const s of stats as BaseTransportStats[]) sum += s[field] ?? 0;
  return sum;
}

export async function roomStats(media: RoomMedia): Promise<MediaRoomStats> {
  const routers = media.routerEntries();
  const { inbound, outbound } = media.transportsByDirection();
  const [bitrateIn, bitrateOut] = await Promise.all([bitrates(inbound, 'recvBitrate'), bitrates(outbound, 'sendBitrate')]);
  return {
    roomId: media.roomId,
    producers: media.producerInfos().length,
    consumers: routers.reduce((n, e) => n + e.consumers, 0),
    bitrateIn,
    bitrateOut,
    routers: routers.map((e) => ({ workerIndex: e.slot.index, workerPid: e.router.closed ? 0 : e.slot.worker.pid, consumers: e.consumers })),
  };
}

export async function workerStats(pool: WorkerPool): Promise<MediaWorkerStats[]> {
  return Promise.all(
    pool.all.map(async (slot) => {
      const usage = await pool.usage(slot).catch(() => ({ cpuPercent: 0, memoryBytes: 0 }));
      return { index: slot.index, pid: slot.worker.pid, ...usage, routers: slot.load.routers, consumers: slot.load.consumers };
    }),
  );
}

interface Snapshot {
  rooms: MediaRoomStats[];
  workers: MediaWorkerStats[];
}

/** Gauges filled at scrape time from the live pool and rooms. */
export function registerMediaMetrics(registry: Registry, pool: WorkerPool, rooms: () => Iterable<RoomMedia>): void {
  // The registry collects all metrics concurrently; they share one reading of mediasoup per
  // scrape. Workers are replaced when they die, so labelled gauges are rebuilt each time rather
  // than keeping series of dead workers.
  let inflight: Promise<Snapshot> | null = null;
  const snapshot = (): Promise<Snapshot> =>
    (inflight ??= Promise.all([Promise.all([...rooms()].map(roomStats)), workerStats(pool)])
      .then(([r, w]) => ({ rooms: r, workers: w }))
      .finally(() => {
        inflight = null;
      }));

  const gauge = (name: string, help: string, label: 'worker' | null, fill: (s: Snapshot, set: (labels: Record<string, string>, v: number) => void) => void) =>
    new Gauge({
      name,
      help,
      labelNames: label ? [label] : [],
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        fill(s, (labels, v) => this.set(labels, v));
      },
    });

  // Summed over the node's rooms: a room id per series would grow without bound with the rooms
  // (media:stats gives a host their own room's figures).
  const overRooms = (name: string, help: string, value: (r: MediaRoomStats) => number) =>
    gauge(name, help, null, (s, set) => set({}, s.rooms.reduce((sum, r) => sum + value(r), 0)));
  const perWorker = (name: string, help: string, value: (w: MediaWorkerStats) => number) =>
    gauge(name, help, 'worker', (s, set) => s.workers.forEach((w) => set({ worker: String(w.index) }, value(w))));

  overRooms('media_bitrate_in_bps', 'Bits/s into the SFU of this node from room hosts (WebRTC and ingest)', (r) => r.bitrateIn);
  overRooms('media_bitrate_out_bps', 'Bits/s from the SFU of this node to viewers', (r) => r.bitrateOut);
  overRooms('media_consumers', 'Consumers (viewer tracks) on this node', (r) => r.consumers);
  overRooms('media_room_routers', 'Routers serving rooms on this node (a room spread over workers has several)', (r) => r.routers.length);
  perWorker('media_worker_cpu_percent', 'CPU of the worker process since the previous reading, % of one core', (w) => w.cpuPercent);
  perWorker('media_worker_max_rss_bytes', 'Peak resident memory of the worker process (ru_maxrss)', (w) => w.memoryBytes);
  perWorker('media_worker_consumers', 'Consumers on the worker', (w) => w.consumers);
  perWorker('media_worker_routers', 'Routers on the worker', (w) => w.routers);
  gauge('media_rooms', 'Rooms with media on this node', null, (s, set) => set({}, s.rooms.length));
  gauge('media_worker_replacements', 'Workers that died and were replaced since start', null, (_s, set) => set({}, pool.replacements));
}
