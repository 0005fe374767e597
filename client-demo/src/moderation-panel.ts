/**
 * Room-wide moderation for the host and moderators: slow mode, blocked words, unban, and the
 * audit log of every moderation action (who did what to whom, when).
 */
import type { AuditEntry, JoinSnapshot, ModerationSettings } from '../../src/protocol/index.js';
import { busy, formatTime, formValues, h, toast } from './dom.js';
import type { LiveClient } from './live-client.js';

export class ModerationPanel {
  readonly root: HTMLElement;
  private readonly slowForm: HTMLFormElement;
  private readonly wordsForm: HTMLFormElement;
  private readonly audit: HTMLOListElement;

  constructor(private readonly client: LiveClient) {
    this.slowForm = h(
      'form',
      { class: 'stack', 'aria-label': 'Slow mode' },
      h('label', { for: 'slow-seconds' }, 'Slow mode — seconds between messages per viewer (0 = off)'),
      h('span', { class: 'row' }, h('input', { id: 'slow-seconds', name: 'seconds', type: 'number', min: 0, max: 3600, step: 1, value: 0, inputmode: 'numeric' }), h('button', { type: 'submit' }, 'Set slow mode')),
    );
    this.slowForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const seconds = Number(formValues(this.slowForm).seconds || 0);
      void busy(this.slowForm.querySelector('button'), async () => {
        this.render(await this.client.request('mod:slow-mode', { seconds }));
        toast(seconds > 0 ? `Slow mode: ${seconds} s` : 'Slow mode off', 'success');
        void this.refreshAudit();
      });
    });

    this.wordsForm = h(
      'form',
      { class: 'stack', 'aria-label': 'Blocked words' },
      h('label', { for: 'blocked-words' }, 'Blocked words (one per line or comma-separated)'),
      h('textarea', { id: 'blocked-words', name: 'words', rows: 3 }),
      h('button', { type: 'submit' }, 'Save blocked words'),
    );
    this.wordsForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const words = (formValues(this.wordsForm).words ?? '').split(/[\n,]/).map((w) => w.trim()).filter(Boolean);
      void busy(this.wordsForm.querySelector('button'), async () => {
        this.render(await this.client.request('mod:blocked-words', { words }));
        toast(`${words.length} blocked word(s) saved`, 'success');
        void this.refreshAudit();
      });
    });

    const unbanForm = h(
      'form',
      { class: 'stack', 'aria-label': 'Unban a user' },
      h('label', { for: 'unban-user' }, 'Unban user (user id)'),
      h('span', { class: 'row' }, h('input', { id: 'unban-user', name: 'userId', required: true, autocomplete: 'off' }), h('button', { type: 'submit' }, 'Unban')),
    );
    unbanForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const userId = (formValues(unbanForm).userId ?? '').trim();
      void busy(unbanForm.querySelector('button'), async () => {
        await this.client.request('mod:unban', { userId });
        toast(`${userId} unbanned`, 'success');
        unbanForm.reset();
        void this.refreshAudit();
      });
    });

    this.audit = h('ol', { class: 'audit-list', 'data-testid': 'audit-log', 'aria-label': 'Audit log, newest first' });
    const refresh = h('button', { type: 'button', class: 'small', onclick: (e: Event) => void busy(e.currentTarget as HTMLButtonElement, () => this.refreshAudit()) }, 'Refresh');
    this.root = h(
      'section',
      { class: 'panel moderation', 'aria-labelledby': 'moderation-title' },
      h('h2', { id: 'moderation-title' }, 'Moderation'),
      this.slowForm,
      this.wordsForm,
      unbanForm,
      h('div', { class: 'row spread' }, h('h3', { id: 'audit-title' }, 'Audit log'), refresh),
      this.audit,
    );
    // Actions by other staff show up too: settings changes are broadcast to the staff channel.
    client.socket.on('room:settings', (s) => {
      this.render(s);
      void this.refreshAudit();
    });
  }

  load(snap: JoinSnapshot): void {
    this.loadSettings(snap.chat.moderation);
  }

  /** Appointed mid-live (room:role): the settings come with the new role. */
  loadSettings(settings: ModerationSettings): void {
    this.render(settings);
    void this.refreshAudit();
  }

  async refreshAudit(): Promise<void> {
    const entries = await this.client.request('mod:audit', { limit: 50 });
    this.audit.replaceChildren(...entries.map(auditItem));
    if (!entries.length) this.audit.append(h('li', { class: 'muted' }, 'No moderation actions yet.'));
  }

  private render(s: ModerationSettings): void {
    (this.slowForm.elements.namedItem('seconds') as HTMLInputElement).value = String(s.slowModeSeconds);
    (this.wordsForm.elements.namedItem('words') as HTMLTextAreaElement).value = s.blockedWords.join('\n');
  }
}

function auditItem(e: AuditEntry): HTMLLIElement {
  const detail = Object.entries(e.detail)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
  return h(
    'li',
    { 'data-action': e.action },
    h('time', { datetime: new Date(e.at).toISOString() }, formatTime(e.at)),
    ' ',
    h('strong', {}, e.actor.name),
    ` ${e.action}`,
    e.targetUserId ? h('code', {}, ` ${e.targetUserId}`) : null,
    detail ? h('span', { class: 'muted' }, ` (${detail})`) : null,
  );
}
