/**
 * Connection state recovery, vetted before anything is replayed.
 *
 * When a client comes back within the recovery window, Socket.IO asks the adapter to restore its
 * session: the adapter reads the rooms the connection had when it dropped and picks every packet
 * broadcast to those rooms since the client's last offset; the new socket then joins those rooms
 * and sends the picked packets, all before our `connection` handler runs. A moderator removed, or
 * a user banned, while away would thus be sent the staff-only traffic (or the room's traffic)
 * they lost the right to. This wrapper hands the restored session to a vetting function first.
 *
 * The vet answers with the rooms the session may keep, or null to refuse recovery (the client
 * then connects afresh with `recovered === false` and joins again). Which room each missed packet
 * was addressed to is known only inside the adapter, so when rooms are taken away the session is
 * put back with the rooms it may keep and restored again: the adapter picks the packets anew, by
 * its own rules (including `except`: a demoted moderator gets the viewers' version of a message
 * sent "to the room except staff"). This costs one more read, and only when a role was lost.
 *
 * Works with any session-aware adapter; with the Redis Streams adapter the session and the
 * packets live in Redis, so a session persisted on one node is vetted and restored on another.
 */
import type { Namespace } from 'socket.io';

type Adapter = Namespace['adapter'];
type Session = NonNullable<Awaited<ReturnType<Adapter['restoreSession']>>>;

/** What the vet sees of a session: its rooms at the drop and its `socket.data` (as persisted). */
export interface RecoveringSession {
  rooms: readonly string[];
  data: unknown;
}

/** The rooms `session` may keep (a subset of its rooms), or null to refuse recovery. Throwing
 * refuses it too: without an answer nothing may be replayed. */
export type RecoveryVet = (session: RecoveringSession) => Promise<string[] | null>;

/**
 * Resolves true once a session just handed to the adapter's persistSession is stored (false: it is
 * not, the write failed). persistSession is fire-and-forget; this must be ordered after its write,
 * e.g. EXISTS on the session key over the same Redis client: same key, same connection, and
 * ioredis's auto-pipelining sends commands in the order they were issued.
 */
export type SessionStored = (pid: string) => Promise<boolean>;

/**
 * Wraps an adapter factory (such as `createAdapter(redis)` of @socket.io/redis-streams-adapter)
 * so every namespace's adapter vets sessions before restoring them.
 */
export function vettedRecovery<A extends Adapter>(
  createAdapter: (nsp: Namespace) => A,
  vet: RecoveryVet,
  sessionStored: SessionStored,
): (nsp: Namespace) => A {
  // A plain function, not an arrow: Socket.IO calls the factory with `new`.
  return function vettedAdapter(nsp: Namespace): A {
    const adapter = createAdapter(nsp);
    const restore = adapter.restoreSession.bind(adapter);
    adapter.restoreSession = async (pid, offset): Promise<Session> => {
      const session = await restore(pid, offset);
      if (!session) return session;
      const allowed = await vet({ rooms: session.rooms, data: session.data });
      // Socket.IO treats a missing session as "not recoverable" (typed as always present).
      if (allowed === null) return null as unknown as Session;
      const keep = new Set(allowed);
      const rooms = session.rooms.filter((room) => keep.has(room));
      if (rooms.length === session.rooms.length) return session;
      // The restore above consumed the stored session: store it again with the rooms it may keep,
      // and restore that once it is stored. The restore's multi-command read is sent at once,
      // while single writes wait for the next auto-pipeline flush, so without the wait the read
      // could overtake the write and find nothing.
      adapter.persistSession({ sid: session.sid, pid: session.pid, rooms, data: session.data });
      if (!(await sessionStored(pid))) return null as unknown as Session;
      return restore(pid, offset);
    };
    return adapter;
  };
}
