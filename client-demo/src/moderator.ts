/**
 * The moderator console: the room's chat with delete / mute / ban on every message, slow mode,
 * blocked words, unban and the audit log. The host appoints moderators by user id, which this
 * page shows so it can be passed on.
 */
import './styles.css';
import { idSchema, type ModerationSettings, type Role } from '../../src/protocol/index.js';
import { ChatPanel } from './chat-panel.js';
import { People } from './people.js';
import { busy, byId, formValues, roomParam, setRoomParam, show } from './dom.js';
import { LiveClient } from './live-client.js';
import { ModerationPanel } from './moderation-panel.js';
import { check, mountAccount, type Session } from './session.js';

mountAccount((session) => {
  show(byId('signin-hint'), false);
  byId('my-id-copy').textContent = session.user.id;
  const roomId = roomParam();
  if (roomId) open(session, roomId);
  else pick(session);
});
if (!byId('account').querySelector('[data-testid="me"]')) show(byId('signin-hint'), true);

function pick(session: Session): void {
  show(byId('pick'), true);
  const form = byId<HTMLFormElement>('pick-room');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(form.querySelector('button'), async () => {
      const roomId = check(idSchema, formValues(form).roomId ?? '');
      setRoomParam(roomId);
      show(byId('pick'), false);
      open(session, roomId);
    });
  });
}

function open(_session: Session, roomId: string): void {
  const client = new LiveClient(_session.token, {
    onSnapshot: (snap) => {
      show(byId('console'), true);
      byId('room-name').textContent = snap.room.title;
      byId('viewer-count').textContent = String(snap.presence.viewers);
      chat.load(snap);
      showRole(snap.role, snap.chat.moderation);
    },
    onRemoved: (why) => {
      const notice = byId('removed');
      notice.textContent = why;
      show(notice, true);
      show(byId('console'), false);
    },
  });
  const chat = new ChatPanel(client, { variant: 'panel', people: new People(), onModerated: () => void moderation.refreshAudit() });
  const moderation = new ModerationPanel(client);
  byId('chat-slot').replaceWith(chat.root);
  byId('moderation-slot').replaceWith(moderation.root);
  client.socket.on('presence:update', (p) => (byId('viewer-count').textContent = String(p.viewers)));
  // Appointed or removed while the page is open: the console follows at once, no reload.
  client.socket.on('room:role', ({ role, moderation: settings }) => showRole(role, settings));
  function showRole(role: Role, settings: ModerationSettings): void {
    byId('my-role').textContent = role;
    const staff = role === 'host' || role === 'moderator';
    const notice = byId('not-staff');
    notice.textContent = staff ? '' : `You are not a moderator of this room yet. Ask the host to appoint your user id ${_session.user.id}; this page updates by itself.`;
    show(notice, !staff);
    show(moderation.root, staff);
    if (staff) moderation.loadSettings(settings);
  }
  client.join(roomId).catch((err: Error) => {
    const notice = byId('removed');
    notice.textContent = `Could not open this room: ${err.message}`;
    show(notice, true);
  });
}
