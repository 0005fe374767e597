/**
 * The Redis command timeout of one client, as one timer for all its commands instead of a timer,
 * a closure and a promise reaction per command (a tenth of a node's CPU in a join storm went to
 * those and to collecting them).
 *
 * Every command gets the same timeout, so deadlines come in the order commands are taken: a FIFO.
 * One timer is armed for the oldest deadline, but never sooner than GRANULARITY of the timeout
 * from now, so it fires a few times per timeout however many commands flow: a command fails
 * between `ms` and `ms` + ms/8 after it was taken. When it fires, answered commands leave the
 * front; due ones still unanswered fail in a setImmediate, after the poll phase has read whatever
 * answers already arrived: after a long stall of this process's event loop the timer and the
 * answer are both due, and the answer must win ("timed out" means Redis did not answer, not that
 * we were slow to read it).
 *
 * A command sent again (a Cluster redirection or retry) is queued again; its first deadline is
 * the one that counts, the later entry finds it settled. A command that failed (an error reply)
 * is not marked settled by ioredis: at its deadline it is "rejected" once more, which a settled
 * promise ignores.
 */
import type { Command } from 'ioredis';

const GRANULARITY = 1 / 8;

export class CommandDeadlines {
  private commands: Command[] = [];
  private deadlines: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly slackMs: number;

  constructor(private readonly ms: number) {
    this.slackMs = Math.max(1, Math.round(ms * GRANULARITY));
  }

  add(command: Command): void {
    this.commands.push(command);
    this.deadlines.push(Date.now() + this.ms);
    if (!this.timer) this.arm();
  }

  /** Commands waiting for their answer or their deadline. */
  get size(): number {
    return this.commands.length - this.head;
  }

  private arm(): void {
    if (this.head >= this.commands.length) return;
    const wait = Math.max(this.deadlines[this.head]! - Date.now(), this.slackMs);
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const now = Date.now();
    let due: Command[] | null = null;
    while (this.head < this.commands.length && this.deadlines[this.head]! <= now) {
      const command = this.commands[this.head]!;
      if (!command.isResolved) (due ??= []).push(command);
      this.head++;
    }
    // The front part is done with: drop it once it is most of the arrays.
    if (this.head > 1024 && this.head * 2 > this.commands.length) {
      this.commands = this.commands.slice(this.head);
      this.deadlines = this.deadlines.slice(this.head);
      this.head = 0;
    }
    if (due) {
      const overdue = due;
      setImmediate(() => {
        for (const command of overdue) if (!command.isResolved) command.reject(new Error('Command timed out'));
      });
    }
    this.arm();
  }
}
