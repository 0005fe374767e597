/**
 * The moderator console: the room's chat with a moderation menu on each message, the muted and
 * banned lists with unmute / unban, slow mode and blocked words, and the audit log in words; the
 * video plays small in a corner. The host appoints moderators by picking them from the chat, and
 * the role changes live (room:role): tools appear or go away without a reload, and nobody sees a
 * button their role would be refused.
 */
import './styles.css';
import type { ModerationSettings, Role } from '../../src/protocol/index.js';
import { ChatPanel } from './chat-panel.js';
import { byId, roomParam, show } from './dom.js';
import { LiveClient } from './live-client.js';
import { humanError } from './messages.js';
import { ModerationPanel } from './moderation-panel.js';
import { People } from './people.js';
import { mountRoomList } from './room-list.js';
import { mountAccount, type Session } from './session.js';
import { VideoPlayer } from './video-player.js';

const ROLE_WORDS: Record<Role, string> = { host: 'the host', moderator: 'a moderator', viewer: 'a viewer', guest: 'a guest' };

mountAccount((session) => {
  show(byId('signin-hint'), false);
  const roomId = roomParam();
  if (roomId) open(session, roomId);
  else pick();
});
if (!byId('account').querySelector('[data-testid="me"]')) show(byId('signin-hint'), true);

function pick(): void {
  show(byId('pick'), true);
  // The same trending list as the home page, linking here instead of to the viewer.
  mountRoomList('rooms', 'rooms-refresh', (id) => `/moderator.html?room=${encodeURIComponent(id)}`);
}

function open(session: Session, roomId: string): void {
  const people = new People();
  const client = new LiveClient(session.token, {
    onSnapshot: (snap) => {
      show(byId('console'), true);
      byId('room-name').textContent = snap.room.title;
      byId('console-title').textContent = `Moderating: ${snap.room.title}`;
      document.title = `Moderate ${snap.room.title} — Live Commerce`;
      byId('viewer-count').textContent = String(snap.presence.viewers);
      chat.load(snap);
      player.load(snap);
      showRole(snap.role, snap.chat.moderation);
    },
    onRemoved: (why) => {
      const notice = byId('removed');
      notice.textContent = why;
      show(notice, true);
      show(byId('console'), false);
    },
  });
  const chat = new ChatPanel(client, { variant: 'panel', people, onModerated: () => void moderation.refreshAudit() });
  const moderation = new ModerationPanel(client, people);
  const player = new VideoPlayer(client, byId<HTMLVideoElement>('video'), byId('video-overlay'));
  byId('chat-slot').replaceWith(chat.root);
  byId('people-col').append(moderation.restrictions, moderation.settings);
  byId('audit-col').append(moderation.auditSection);
  client.socket.on('presence:update', (p) => (byId('viewer-count').textContent = String(p.viewers)));
  client.socket.on('room:status', ({ room }) => chat.setRoom(room));
  // Appointed or removed while the page is open: the console follows at once, no reload.
  client.socket.on('room:role', ({ role, moderation: settings }) => showRole(role, settings));

  function showRole(role: Role, settings: ModerationSettings): void {
    byId('my-role').textContent = role;
    byId('my-role').title = ROLE_WORDS[role];
    const staff = role === 'host' || role === 'moderator';
    const notice = byId('not-staff');
    notice.textContent = staff ? '' : 'You’re watching as a viewer. Say hello in the chat: the host can make you a moderator from there, and this page updates by itself.';
    show(notice, !staff);
    for (const section of [moderation.restrictions, moderation.settings, moderation.auditSection]) show(section, staff);
    byId('console').classList.toggle('is-staff', staff);
    if (staff) moderation.loadSettings(settings);
  }
  client.join(roomId).catch((err: unknown) => {
    const notice = byId('removed');
    notice.textContent = `Could not open this live. ${humanError(err)}`;
    show(notice, true);
  });
}
