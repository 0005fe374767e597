/**
 * The chat: history from the join snapshot, live messages, deletions, and — for the host and
 * moderators — delete / mute / ban buttons on each message. Messages are keyed by id, so the
 * replay after a recovered connection or a fresh snapshot never shows one twice.
 */
import type { ChatMessage, JoinSnapshot, ModerationSettings } from '../../src/protocol/index.js';
import { busy, formatTime, formValues, h, toast } from './dom.js';
import type { LiveClient } from './live-client.js';

export interface ChatPanelOptions {
  /** Show moderation controls (host and moderators). The server checks the role regardless. */
  moderation: boolean;
  /** Called after a moderation action succeeded, e.g. to refresh the audit log. */
  onModerated?: () => void;
}

const MUTE_SECONDS = 5 * 60;

export class ChatPanel {
  readonly root: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly form: HTMLFormElement;
  private readonly note: HTMLElement;
  private hostId: string | null = null;
  private myId: string | null = null;
  private settings: ModerationSettings = { slowModeSeconds: 0, blockedWords: [] };
  private mutedUntil = 0;
  /** The message being sent, with the clientId it keeps until the server has stored it. */
  private unsent: { text: string; clientId: string } | null = null;

  constructor(
    private readonly client: LiveClient,
    private readonly opts: ChatPanelOptions,
  ) {
    this.list = h('ol', { class: 'chat-list', role: 'log', 'aria-live': 'polite', 'aria-label': 'Chat messages', 'data-testid': 'chat-list' });
    this.note = h('p', { class: 'chat-note', 'data-testid': 'chat-note' });
    this.form = h(
      'form',
      { class: 'chat-form', 'aria-label': 'Send a chat message' },
      h('label', { for: 'chat-input', class: 'visually-hidden' }, 'Message'),
      h('input', { id: 'chat-input', name: 'text', maxlength: 500, autocomplete: 'off', placeholder: 'Say something…', required: true }),
      h('button', { type: 'submit' }, 'Send'),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
    this.root = h('section', { class: 'panel chat', 'aria-labelledby': 'chat-title' }, h('h2', { id: 'chat-title' }, 'Chat'), this.list, this.note, this.form);

    const s = client.socket;
    s.on('chat:message', (m) => this.add(m));
    s.on('chat:deleted', ({ messageId }) => this.list.querySelector(`[data-id="${CSS.escape(messageId)}"]`)?.remove());
    s.on('room:settings', (settings) => {
      this.settings = settings;
      this.renderNote();
    });
    s.on('room:role', ({ moderation }) => {
      this.settings = moderation;
      this.renderNote();
    });
    s.on('user:muted', ({ until }) => {
      this.mutedUntil = until;
      this.renderNote();
      toast(`A moderator muted you until ${formatTime(until)}.`, 'error');
    });
  }

  load(snap: JoinSnapshot): void {
    this.hostId = snap.room.hostId;
    this.myId = snap.you?.id ?? null;
    this.settings = snap.chat.moderation;
    this.list.replaceChildren();
    for (const m of snap.chat.messages) this.add(m);
    this.setEnabled(snap.you !== null);
    this.renderNote();
  }

  /** Guests read; signing in or being removed turns the form on or off. */
  setEnabled(enabled: boolean): void {
    for (const el of this.form.elements) (el as HTMLInputElement).disabled = !enabled;
    if (!enabled && !this.myId) this.note.textContent = 'Sign in to chat.';
  }

  private add(m: ChatMessage): void {
    if (this.list.querySelector(`[data-id="${CSS.escape(m.id)}"]`)) return;
    const isHost = m.user.id === this.hostId;
    const item = h(
      'li',
      { 'data-id': m.id, 'data-user': m.user.id, class: isHost ? 'from-host' : null },
      h('span', { class: 'chat-meta' }, h('strong', {}, m.user.name), isHost ? h('span', { class: 'badge' }, 'Host') : null, ' ', h('time', { datetime: new Date(m.at).toISOString() }, formatTime(m.at))),
      h('span', { class: 'chat-text' }, m.text),
    );
    if (this.opts.moderation) item.append(this.actionsFor(m, isHost));
    this.list.append(item);
    // Keep the newest visible unless the reader scrolled up to read older messages.
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    if (nearBottom || this.list.children.length < 20) this.list.scrollTop = this.list.scrollHeight;
    while (this.list.children.length > 300) this.list.firstElementChild?.remove();
  }

  private actionsFor(m: ChatMessage, isHost: boolean): HTMLElement {
    const who = m.user.name;
    const act = (label: string, aria: string, run: () => Promise<unknown>, done: string) =>
      h('button', {
        type: 'button',
        class: 'small',
        'aria-label': aria,
        onclick: (e: Event) =>
          void busy(e.currentTarget as HTMLButtonElement, async () => {
            await run();
            toast(done, 'success');
            this.opts.onModerated?.();
          }),
      }, label);
    const box = h('span', { class: 'mod-actions' }, act('Delete', `Delete message from ${who}`, () => this.client.request('mod:delete', { messageId: m.id }), 'Message deleted'));
    // Nobody acts on the host or on themself; the server refuses it too, this just hides the buttons.
    if (!isHost && m.user.id !== this.myId) {
      box.append(
        act('Mute 5 min', `Mute ${who} for 5 minutes`, () => this.client.request('mod:mute', { userId: m.user.id, seconds: MUTE_SECONDS }), `${who} muted for 5 minutes`),
        act('Ban', `Ban ${who} from this room`, () => this.client.request('mod:ban', { userId: m.user.id }), `${who} banned`),
      );
    }
    return box;
  }

  private async send(): Promise<void> {
    const input = this.form.elements.namedItem('text') as HTMLInputElement;
    const text = formValues(this.form).text ?? '';
    const button = this.form.querySelector('button');
    // Pressing Send again after an error (UNAVAILABLE, a lost ack) resends the same message: it
    // keeps its clientId, so the server stores it once however often it arrives.
    if (this.unsent?.text !== text) this.unsent = { text, clientId: crypto.randomUUID() };
    const { clientId } = this.unsent;
    const sent = await busy(button, () => this.client.request('chat:send', { text, clientId }));
    if (sent) {
      this.unsent = null;
      input.value = '';
      this.add(sent);
    }
    input.focus();
  }

  private renderNote(): void {
    const parts: string[] = [];
    if (this.mutedUntil > Date.now()) parts.push(`You are muted until ${formatTime(this.mutedUntil)}.`);
    if (this.settings.slowModeSeconds > 0) parts.push(`Slow mode: one message every ${this.settings.slowModeSeconds} s.`);
    this.note.textContent = parts.join(' ');
  }
}
