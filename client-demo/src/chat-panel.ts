/**
 * The chat: history from the join snapshot, live messages, deletions, and — for the host and
 * moderators — a menu on each message (delete, mute, ban, make moderator). The menu follows the
 * reader's role as it changes (room:role), so a moderator appointed mid-show gets it at once and
 * a viewer never sees buttons the server would refuse. Messages are keyed by id, so the replay
 * after a recovered connection or a fresh snapshot never shows one twice.
 *
 * Two looks: 'overlay' (the viewer's translucent column over the video, newest at the bottom,
 * input always visible) and 'panel' (the studio and console).
 */
import type { ChatMessage, JoinSnapshot, ModerationSettings, Role, Room } from '../../src/protocol/index.js';
import { busy, confirmDialog, formatCountdown, formatTime, formValues, h, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import { errorKind, humanError, type ErrorLike } from './messages.js';
import type { People } from './people.js';

export interface ChatPanelOptions {
  variant: 'overlay' | 'panel';
  people: People;
  /** Called after a moderation action succeeded, e.g. to refresh the audit log and lists. */
  onModerated?: () => void;
  /** Host only: make this person a moderator (the host's page does the HTTP call). */
  onAppoint?: (user: { id: string; name: string }) => Promise<void>;
}

const MUTE_SECONDS = 5 * 60;
const KEEP_MESSAGES = 300;

export class ChatPanel {
  readonly root: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly form: HTMLFormElement;
  private readonly input: HTMLInputElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly note: HTMLElement;
  private readonly messages = new Map<string, ChatMessage>();
  private room: Room | null = null;
  private role: Role = 'guest';
  private myId: string | null = null;
  private settings: ModerationSettings = { slowModeSeconds: 0, blockedWords: [] };
  private mutedUntil = 0;
  /** Slow mode: when this reader may send again (local clock). */
  private nextSendAt = 0;
  /** The last refusal, shown under the input until the next send. */
  private problem: string | null = null;
  private ended = false;
  /** The message being sent, with the clientId it keeps until the server has stored it. */
  private unsent: { text: string; clientId: string } | null = null;

  constructor(
    private readonly client: LiveClient,
    private readonly opts: ChatPanelOptions,
  ) {
    const overlay = opts.variant === 'overlay';
    // A list that announces additions (not role=log: that would take its items out of the list).
    this.list = h('ol', { class: 'chat-list', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Chat messages', 'data-testid': 'chat-list', tabindex: 0 });
    this.note = h('p', { class: 'chat-note', 'data-testid': 'chat-note', role: 'status' });
    this.input = h('input', { id: 'chat-input', name: 'text', maxlength: 500, autocomplete: 'off', enterkeyhint: 'send', placeholder: overlay ? 'Say something…' : 'Message the room…', required: true });
    this.sendButton = h('button', { type: 'submit', class: 'send' }, 'Send');
    this.form = h(
      'form',
      { class: 'chat-form', 'aria-label': 'Send a chat message' },
      h('label', { for: 'chat-input', class: 'visually-hidden' }, 'Message'),
      this.input,
      this.sendButton,
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
    this.root = h(
      'section',
      { class: `chat chat-${opts.variant}${overlay ? '' : ' panel'}`, 'aria-labelledby': 'chat-title' },
      h('h2', { id: 'chat-title', class: overlay ? 'visually-hidden' : null }, 'Chat'),
      this.list,
      this.note,
      this.form,
    );

    const s = client.socket;
    s.on('chat:message', (m) => this.add(m));
    s.on('chat:deleted', ({ messageId }) => {
      this.messages.delete(messageId);
      this.list.querySelector(`[data-id="${CSS.escape(messageId)}"]`)?.remove();
    });
    s.on('room:settings', (settings) => {
      this.settings = settings;
      if (settings.slowModeSeconds === 0) this.nextSendAt = 0; // slow mode off: no wait left
      this.renderNote();
    });
    s.on('room:role', ({ role, moderation }) => {
      this.settings = moderation;
      this.setRole(role);
    });
    s.on('user:muted', ({ until }) => {
      this.mutedUntil = until;
      this.renderNote();
      toast(`A moderator muted you until ${formatTime(until)}.`, 'info');
    });
    // The countdowns in the note (slow mode, mute) run down by themselves.
    setInterval(() => {
      if (this.nextSendAt || this.mutedUntil) this.renderNote();
    }, 500);
  }

  load(snap: JoinSnapshot): void {
    this.room = snap.room;
    this.myId = snap.you?.id ?? null;
    this.settings = snap.chat.moderation;
    this.ended = snap.room.status === 'ended';
    this.opts.people.learn({ id: snap.room.hostId, name: snap.room.hostName });
    this.messages.clear();
    this.list.replaceChildren();
    for (const m of snap.chat.messages) this.add(m);
    if (!snap.chat.messages.length && this.opts.variant === 'panel') this.list.append(h('li', { class: 'chat-empty muted' }, 'No messages yet. What viewers write shows here.'));
    this.setRole(snap.role);
    this.setEnabled(snap.you !== null && !this.ended);
    this.renderNote();
  }

  /** The people who wrote the messages shown, newest first, each once (staff pick moderators here). */
  *authors(): Iterable<{ id: string; name: string }> {
    const seen = new Set<string>();
    for (const m of [...this.messages.values()].reverse()) {
      if (seen.has(m.user.id)) continue;
      seen.add(m.user.id);
      yield m.user;
    }
  }

  /** The reader's role changed (appointed, removed): moderation menus follow without a reload. */
  setRole(role: Role): void {
    this.role = role;
    this.root.dataset.role = role;
    for (const item of this.list.querySelectorAll<HTMLElement>('li[data-id]')) {
      const m = this.messages.get(item.dataset.id ?? '');
      item.querySelector('.msg-menu')?.remove();
      if (m) this.decorate(item, m);
    }
  }

  /** The room record changed (e.g. its moderators): who may act on whom changes with it. */
  setRoom(room: Room): void {
    this.room = room;
    this.ended = room.status === 'ended';
    if (this.ended) this.setEnabled(false);
    this.setRole(this.role);
  }

  /** Guests read; signing in, being removed or the live ending turns the form on or off. */
  setEnabled(enabled: boolean): void {
    this.input.disabled = !enabled;
    this.sendButton.disabled = !enabled;
    this.input.placeholder = enabled ? (this.opts.variant === 'overlay' ? 'Say something…' : 'Message the room…') : this.ended ? 'This live has ended' : 'Sign in to chat';
    this.renderNote();
  }

  private add(m: ChatMessage): void {
    this.opts.people.learn(m.user);
    if (this.messages.has(m.id)) return;
    this.messages.set(m.id, m);
    const isHost = m.user.id === this.room?.hostId;
    const isMod = this.room?.moderatorIds.includes(m.user.id) ?? false;
    const item = h(
      'li',
      { 'data-id': m.id, 'data-user': m.user.id, class: isHost ? 'from-host' : null },
      h(
        'span',
        { class: 'chat-meta' },
        h('strong', {}, m.user.name),
        isHost ? h('span', { class: 'badge' }, 'Host') : isMod ? h('span', { class: 'badge mod' }, 'Mod') : null,
        this.opts.variant === 'panel' ? h('time', { datetime: new Date(m.at).toISOString() }, formatTime(m.at)) : null,
      ),
      h('span', { class: 'chat-text' }, m.text),
    );
    this.decorate(item, m);
    // Keep the newest visible unless the reader scrolled up to read older messages.
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    this.list.querySelector('.chat-empty')?.remove();
    this.list.append(item);
    if (nearBottom || this.list.children.length < 20) this.list.scrollTop = this.list.scrollHeight;
    while (this.list.children.length > KEEP_MESSAGES) {
      const first = this.list.firstElementChild as HTMLElement | null;
      if (first?.dataset.id) this.messages.delete(first.dataset.id);
      first?.remove();
    }
  }

  /** Staff get a menu on each message, holding only what their role may do to its author. */
  private decorate(item: HTMLElement, m: ChatMessage): void {
    const staff = this.role === 'host' || this.role === 'moderator';
    if (!staff || this.ended) return;
    const actions = this.actionsFor(m);
    if (!actions.length) return;
    const menu = h(
      'details',
      { class: 'msg-menu' },
      h('summary', { 'aria-label': `Actions for ${m.user.name}’s message`, title: 'Moderate' }, '⋯'),
      h('div', { class: 'menu' }, ...actions),
    );
    // One menu open at a time; Escape closes it and gives focus back to its button.
    menu.addEventListener('toggle', () => {
      if (!menu.open) return;
      for (const other of this.list.querySelectorAll('details.msg-menu[open]')) if (other !== menu) (other as HTMLDetailsElement).open = false;
      // Near the bottom of the list the menu opens upwards, or the list would clip it.
      const panel = menu.querySelector<HTMLElement>('.menu');
      const room = this.list.getBoundingClientRect().bottom - menu.getBoundingClientRect().bottom;
      menu.classList.toggle('up', panel !== null && panel.offsetHeight > room);
    });
    menu.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      menu.open = false;
      menu.querySelector('summary')?.focus();
    });
    item.append(menu);
  }

  /** What this reader may do to this message's author: the rule the server applies (core/roles). */
  private actionsFor(m: ChatMessage): HTMLButtonElement[] {
    const who = m.user.name;
    const room = this.room;
    const author = m.user.id;
    const act = (label: string, aria: string, run: () => Promise<unknown>, done: string, opts: { confirm?: string; danger?: boolean } = {}) =>
      h(
        'button',
        {
          type: 'button',
          class: opts.danger ? 'menu-item danger-text' : 'menu-item',
          'aria-label': aria,
          onclick: (e: Event) => {
            const button = e.currentTarget as HTMLButtonElement;
            (button.closest('details') as HTMLDetailsElement | null)?.removeAttribute('open');
            void (async () => {
              if (opts.confirm && !(await confirmDialog({ title: opts.confirm, body: `${who} will be removed from this live and cannot come back unless unbanned.`, confirm: label.replace('…', ''), danger: true }))) return;
              await busy(button, async () => {
                await run();
                toast(done, 'success', 2500);
                this.opts.onModerated?.();
              });
            })();
          },
        },
        label,
      );
    const items = [act('Delete message', `Delete message from ${who}`, () => this.client.request('mod:delete', { messageId: m.id }), 'Message deleted')];
    if (!room || author === room.hostId || author === this.myId) return items;
    const authorIsMod = room.moderatorIds.includes(author);
    // Moderators act on viewers; the host acts on anyone but themself.
    if (this.role === 'moderator' && authorIsMod) return items;
    items.push(
      act('Mute 5 min', `Mute ${who} for 5 minutes`, () => this.client.request('mod:mute', { userId: author, seconds: MUTE_SECONDS }), `${who} is muted for 5 minutes`),
      act('Ban…', `Ban ${who} from this room`, () => this.client.request('mod:ban', { userId: author }), `${who} is banned`, { confirm: `Ban ${who}?`, danger: true }),
    );
    if (this.role === 'host' && !authorIsMod && this.opts.onAppoint) {
      const appoint = this.opts.onAppoint;
      items.push(act('Make moderator', `Make ${who} a moderator`, () => appoint(m.user), `${who} is now a moderator`));
    }
    return items;
  }

  private async send(): Promise<void> {
    const text = formValues(this.form).text ?? '';
    // Pressing Send again after an error (UNAVAILABLE, a lost ack) resends the same message: it
    // keeps its clientId, so the server stores it once however often it arrives.
    if (this.unsent?.text !== text) this.unsent = { text, clientId: crypto.randomUUID() };
    const { clientId } = this.unsent;
    this.sendButton.disabled = true;
    try {
      const sent = await this.client.request('chat:send', { text, clientId });
      this.unsent = null;
      this.problem = null;
      this.input.value = '';
      this.add(sent);
      if (this.settings.slowModeSeconds > 0 && this.role !== 'host' && this.role !== 'moderator') this.nextSendAt = Date.now() + this.settings.slowModeSeconds * 1000;
    } catch (err) {
      this.refused(err as ErrorLike);
    } finally {
      this.sendButton.disabled = this.input.disabled;
      this.renderNote();
    }
    this.input.focus();
  }

  /** Refusals are said under the input, where the person is looking, not in a toast. */
  private refused(err: ErrorLike): void {
    if (err.code === 'SLOW_MODE') {
      this.nextSendAt = Date.now() + (err.retryAfterMs ?? 1000);
      this.problem = null; // the note's countdown says it
      return;
    }
    if (err.code === 'MUTED' && err.retryAfterMs !== undefined) {
      this.mutedUntil = Date.now() + err.retryAfterMs;
      this.problem = null;
      return;
    }
    this.problem = humanError(err);
    if (errorKind(err) === 'error' && this.opts.variant === 'panel') toast(this.problem, 'error');
  }

  private renderNote(): void {
    const now = Date.now();
    const parts: string[] = [];
    if (this.problem) parts.push(this.problem);
    if (this.mutedUntil > now) parts.push(`You’re muted until ${formatTime(this.mutedUntil)}.`);
    else this.mutedUntil = 0;
    if (this.nextSendAt > now) parts.push(`Slow mode: you can send again in ${formatCountdown(this.nextSendAt - now)}.`);
    else {
      this.nextSendAt = 0;
      if (this.settings.slowModeSeconds > 0) parts.push(`Slow mode: one message every ${this.settings.slowModeSeconds} s.`);
    }
    if (!this.myId && !this.ended) parts.push('Sign in to chat.');
    this.note.textContent = parts.join(' ');
    this.note.hidden = parts.length === 0;
  }
}
