/**
 * Room-wide moderation for the host and moderators: who is muted or banned (with unmute / unban),
 * slow mode, blocked words, and the audit log in words — "Maya deleted Bob's message “…”",
 * "Hana muted Alice until 14:08" — with names and local times, never ids or epoch numbers.
 *
 * The muted and banned lists are read from the audit log (the newest 500 entries): each person's
 * latest mute/unmute and ban/unban decides, and a mute past its end is over. Names come from the
 * audit entries (the server records the target's name as last seen in chat).
 */
import type { AuditEntry, JoinSnapshot, ModerationSettings } from '../../src/protocol/index.js';
import { busy, formatTime, formValues, h, toast } from './dom.js';
import type { LiveClient } from './live-client.js';
import type { People } from './people.js';

const AUDIT_READ = 500;
const AUDIT_SHOWN = 60;
const SLOW_CHOICES: [number, string][] = [[0, 'Off'], [3, '3 s'], [5, '5 s'], [10, '10 s'], [30, '30 s'], [60, '1 min'], [300, '5 min']];

interface Restriction {
  userId: string;
  name: string;
  /** Mutes: when it ends. */
  until?: number;
}

export class ModerationPanel {
  readonly root: HTMLElement;
  /** Muted and banned people, with the buttons that lift it. */
  readonly restrictions: HTMLElement;
  readonly settings: HTMLElement;
  readonly auditSection: HTMLElement;
  private readonly slowForm: HTMLFormElement;
  private readonly wordsForm: HTMLFormElement;
  private readonly audit: HTMLOListElement;
  private readonly mutedList = h('ul', { class: 'people-list', 'data-testid': 'muted-list', 'aria-labelledby': 'muted-title' });
  private readonly bannedList = h('ul', { class: 'people-list', 'data-testid': 'banned-list', 'aria-labelledby': 'banned-title' });

  constructor(
    private readonly client: LiveClient,
    private readonly people: People,
  ) {
    const slowSelect = h('select', { id: 'slow-seconds', name: 'seconds' }, ...SLOW_CHOICES.map(([v, text]) => h('option', { value: v }, text)));
    this.slowForm = h(
      'form',
      { class: 'row', 'aria-label': 'Slow mode' },
      h('label', { for: 'slow-seconds' }, 'Slow mode'),
      slowSelect,
      h('button', { type: 'submit', class: 'secondary' }, 'Set'),
    );
    this.slowForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const seconds = Number(formValues(this.slowForm).seconds || 0);
      void busy(this.slowForm.querySelector('button'), async () => {
        this.render(await this.client.request('mod:slow-mode', { seconds }));
        toast(seconds > 0 ? `Slow mode: one message every ${seconds} s` : 'Slow mode off', 'success', 2500);
        void this.refreshAudit();
      });
    });

    this.wordsForm = h(
      'form',
      { class: 'stack', 'aria-label': 'Blocked words' },
      h('label', { for: 'blocked-words' }, 'Blocked words (one per line or comma-separated)'),
      h('textarea', { id: 'blocked-words', name: 'words', rows: 2 }),
      h('div', {}, h('button', { type: 'submit', class: 'secondary' }, 'Save blocked words')),
    );
    this.wordsForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const words = (formValues(this.wordsForm).words ?? '').split(/[\n,]/).map((w) => w.trim()).filter(Boolean);
      void busy(this.wordsForm.querySelector('button'), async () => {
        this.render(await this.client.request('mod:blocked-words', { words }));
        toast(words.length ? `${words.length} blocked word${words.length === 1 ? '' : 's'} saved` : 'No blocked words', 'success', 2500);
        void this.refreshAudit();
      });
    });

    this.audit = h('ol', { class: 'audit-list', 'data-testid': 'audit-log', 'aria-label': 'Audit log, newest first' });
    const refresh = h('button', { type: 'button', class: 'small', onclick: (e: Event) => void busy(e.currentTarget as HTMLButtonElement, () => this.refreshAudit()) }, 'Refresh');

    this.restrictions = h(
      'section',
      { class: 'panel restrictions', 'aria-labelledby': 'restrictions-title' },
      h('h2', { id: 'restrictions-title' }, 'Muted and banned'),
      h('h3', { id: 'muted-title' }, 'Muted'),
      this.mutedList,
      h('h3', { id: 'banned-title' }, 'Banned'),
      this.bannedList,
    );
    this.settings = h('section', { class: 'panel', 'aria-labelledby': 'settings-title' }, h('h2', { id: 'settings-title' }, 'Room rules'), this.slowForm, this.wordsForm);
    this.auditSection = h(
      'section',
      { class: 'panel audit', 'aria-labelledby': 'audit-title' },
      h('div', { class: 'row spread' }, h('h2', { id: 'audit-title' }, 'Audit log'), refresh),
      this.audit,
    );
    this.root = h('div', { class: 'moderation' }, this.restrictions, this.settings, this.auditSection);
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
    void this.refreshAudit().catch(() => {});
  }

  async refreshAudit(): Promise<void> {
    const entries = await this.client.request('mod:audit', { limit: AUDIT_READ });
    for (const e of entries) {
      this.people.learn(e.actor);
      if (e.targetUserId && e.targetName) this.people.learn({ id: e.targetUserId, name: e.targetName });
    }
    this.audit.replaceChildren(...entries.slice(0, AUDIT_SHOWN).map((e) => this.auditItem(e)));
    if (!entries.length) this.audit.append(h('li', { class: 'muted' }, 'No moderation actions yet.'));
    this.renderRestrictions(entries);
  }

  private renderRestrictions(entries: AuditEntry[]): void {
    const muted: Restriction[] = [];
    const banned: Restriction[] = [];
    const decidedMute = new Set<string>();
    const decidedBan = new Set<string>();
    const now = Date.now();
    // Newest first: the first mute/unmute (ban/unban) met for a person is their current state.
    for (const e of entries) {
      const id = e.targetUserId;
      if (!id) continue;
      const name = e.targetName ?? this.people.name(id);
      if ((e.action === 'mute' || e.action === 'unmute') && !decidedMute.has(id)) {
        decidedMute.add(id);
        const until = Number(e.detail.until ?? 0);
        if (e.action === 'mute' && until > now) muted.push({ userId: id, name, until });
      }
      if ((e.action === 'ban' || e.action === 'unban') && !decidedBan.has(id)) {
        decidedBan.add(id);
        if (e.action === 'ban') banned.push({ userId: id, name });
      }
    }
    const row = (r: Restriction, label: string, run: () => Promise<unknown>, done: string) => {
      const button: HTMLButtonElement = h(
        'button',
        {
          type: 'button',
          class: 'small',
          'aria-label': `${label} ${r.name}`,
          onclick: () =>
            void busy(button, async () => {
              await run();
              toast(done, 'success', 2500);
              await this.refreshAudit();
            }),
        },
        label,
      );
      return h('li', { 'data-user': r.userId }, h('span', { class: 'grow' }, h('strong', {}, r.name), r.until ? h('span', { class: 'muted' }, ` until ${formatTime(r.until)}`) : null), button);
    };
    this.mutedList.replaceChildren(...muted.map((r) => row(r, 'Unmute', () => this.client.request('mod:unmute', { userId: r.userId }), `${r.name} can chat again`)));
    if (!muted.length) this.mutedList.append(h('li', { class: 'muted' }, 'Nobody is muted.'));
    this.bannedList.replaceChildren(...banned.map((r) => row(r, 'Unban', () => this.client.request('mod:unban', { userId: r.userId }), `${r.name} may come back`)));
    if (!banned.length) this.bannedList.append(h('li', { class: 'muted' }, 'Nobody is banned.'));
  }

  private render(s: ModerationSettings): void {
    const select = this.slowForm.elements.namedItem('seconds') as HTMLSelectElement;
    if (![...select.options].some((o) => Number(o.value) === s.slowModeSeconds)) select.append(h('option', { value: s.slowModeSeconds }, `${s.slowModeSeconds} s`));
    select.value = String(s.slowModeSeconds);
    (this.wordsForm.elements.namedItem('words') as HTMLTextAreaElement).value = s.blockedWords.join('\n');
  }

  /** One entry as a sentence: who did what to whom, when, and what was removed. */
  private auditItem(e: AuditEntry): HTMLLIElement {
    const target = e.targetUserId ? (e.targetName ?? this.people.name(e.targetUserId)) : '';
    const d = e.detail;
    let what: (string | HTMLElement)[];
    switch (e.action) {
      case 'delete':
        what = [`deleted ${target ? `${target}’s` : 'a'} message`, typeof d.text === 'string' ? h('q', { class: 'deleted-text' }, d.text) : ''];
        break;
      case 'mute':
        what = [`muted ${target}${d.until ? ` until ${formatTime(Number(d.until))}` : ''}`];
        break;
      case 'unmute':
        what = [`unmuted ${target}`];
        break;
      case 'ban':
        what = [`banned ${target}${d.reason ? ` (${String(d.reason)})` : ''}`];
        break;
      case 'unban':
        what = [`unbanned ${target}`];
        break;
      case 'slow-mode':
        what = [Number(d.seconds) > 0 ? `set slow mode to one message every ${Number(d.seconds)} s` : 'turned slow mode off'];
        break;
      case 'blocked-words':
        what = [Number(d.count) > 0 ? `set ${Number(d.count)} blocked word${Number(d.count) === 1 ? '' : 's'}` : 'cleared the blocked words'];
        break;
      default:
        what = [`${e.action}${target ? ` ${target}` : ''}`];
    }
    return h(
      'li',
      { 'data-action': e.action },
      h('time', { datetime: new Date(e.at).toISOString() }, formatTime(e.at)),
      ' ',
      h('strong', {}, e.actor.name),
      ' ',
      ...what.flatMap((part) => (typeof part === 'string' ? [part] : [' ', part])),
    );
  }
}
