/**
 * The viewer page: without ?room= it lists who is live; with it, it joins the room and shows the
 * host's video, the pinned product, the flash sale, chat and hearts. Guests may watch; signing in
 * lets them chat, send hearts and buy.
 */
import './styles.css';
import type { JoinSnapshot, PinState } from '../../src/protocol/index.js';
import { ChatPanel } from './chat-panel.js';
import { byId, h, roomParam, show, toast } from './dom.js';
import { LiveClient } from './live-client.js';
import { productCard } from './product-view.js';
import { mountRoomList } from './room-list.js';
import { ViewerSalePanel } from './sale-viewer.js';
import { VideoPlayer } from './video-player.js';
import { currentSession, mountAccount } from './session.js';

const roomId = roomParam();

if (!roomId) {
  show(byId('browse'), true);
  mountAccount(() => {});
  mountRoomList();
} else {
  watch(roomId);
}

function watch(roomId: string): void {
  show(byId('watch'), true);
  let snapshot: JoinSnapshot | null = null;
  const client = new LiveClient(currentSession()?.token ?? null, {
    onSnapshot: (snap) => {
      snapshot = snap;
      render(snap);
    },
    onRemoved: (why) => leave(why),
  });
  const chat = new ChatPanel(client, { moderation: false });
  byId('chat-slot').replaceWith(chat.root);
  const sales = new ViewerSalePanel(client, byId('sale'), byId('sale-body'));
  const player = new VideoPlayer(client, byId<HTMLVideoElement>('video'), byId('video-overlay'));

  const viewers = byId('viewer-count');
  const hearts = byId('hearts-total');
  const render = (snap: JoinSnapshot) => {
    byId('room-title').textContent = snap.room.title;
    document.title = `${snap.room.title} — Live Commerce`;
    byId('room-host').textContent = `Hosted by ${snap.room.hostName}${snap.room.description ? ` — ${snap.room.description}` : ''}`;
    show(byId('room-live'), snap.room.status === 'live');
    viewers.textContent = String(snap.presence.viewers);
    hearts.textContent = String(snap.hearts);
    renderPin(snap.commerce.pinned);
    chat.load(snap);
    sales.load(snap);
    player.load(snap);
    byId<HTMLButtonElement>('heart').disabled = snap.you === null;
  };

  const s = client.socket;
  s.on('presence:update', (p) => (viewers.textContent = String(p.viewers)));
  s.on('hearts:update', (p) => (hearts.textContent = String(p.total)));
  s.on('pin:changed', renderPin);
  s.on('room:status', ({ room }) => {
    show(byId('room-live'), room.status === 'live');
    if (snapshot) snapshot.room = room;
  });

  // Hearts: taps within a short window go out as one event (the server accepts up to 20 at once).
  let pendingHearts = 0;
  let heartTimer: ReturnType<typeof setTimeout> | null = null;
  byId('heart').addEventListener('click', () => {
    pendingHearts = Math.min(20, pendingHearts + 1);
    heartTimer ??= setTimeout(() => {
      const count = pendingHearts;
      pendingHearts = 0;
      heartTimer = null;
      client.request('heart:tap', { count }).catch((err: Error) => toast(err.message, 'error'));
    }, 200);
  });

  const video = byId<HTMLVideoElement>('video');
  const unmute = byId<HTMLButtonElement>('unmute');
  unmute.addEventListener('click', () => {
    video.muted = !video.muted;
    unmute.textContent = video.muted ? 'Unmute' : 'Mute';
    unmute.setAttribute('aria-pressed', String(!video.muted));
    void video.play().catch(() => {});
  });

  mountAccount((session) => {
    if (snapshot && snapshot.you?.id !== session.user.id) client.reauthenticate(session.token);
  });
  client.join(roomId).catch((err: Error) => leave(`Could not join this room: ${err.message}`));
}

/** Out of the room (banned, ended, refused): say why and offer the way back to the list. */
function leave(why: string): void {
  byId('removed').replaceChildren(h('p', {}, why), h('a', { href: '/viewer.html' }, 'See who else is live'));
  show(byId('removed'), true);
  show(byId('watch'), false);
}

function renderPin(pin: PinState): void {
  const body = byId('pinned-body');
  body.replaceChildren(pin.product ? productCard(pin.product) : h('p', { class: 'muted' }, 'Nothing pinned right now.'));
}
