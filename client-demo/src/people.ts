/**
 * Names of the people this page has met: chat authors, the host, audit actors and targets. The
 * server keeps no name for a user id outside those places, so staff pages show a person by the
 * name they were last seen under, and only fall back to a shortened id for someone never seen.
 */
import type { UserRef } from '../../src/protocol/index.js';

export class People {
  private readonly names = new Map<string, string>();
  private readonly listeners = new Set<() => void>();

  learn(user: UserRef | null | undefined): void {
    if (!user?.id || !user.name || this.names.get(user.id) === user.name) return;
    this.names.set(user.id, user.name);
    for (const fn of this.listeners) fn();
  }

  /** "Maya", or "user …3f9a" for an id never seen with a name. */
  name(userId: string): string {
    return this.names.get(userId) ?? `user …${userId.slice(-4)}`;
  }

  known(userId: string): boolean {
    return this.names.has(userId);
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }
}
