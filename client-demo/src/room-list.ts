/** The trending list of live rooms (GET /api/rooms?status=live&sort=trending), refreshed every few seconds. */
import type { RoomSummary } from '../../src/protocol/index.js';
import { byId, h } from './dom.js';
import { humanError } from './messages.js';
import { api } from './session.js';

const REFRESH_MS = 5000;

export function mountRoomList(listId = 'rooms', refreshId = 'rooms-refresh', link = (roomId: string) => `/viewer.html?room=${encodeURIComponent(roomId)}`): () => void {
  const list = byId<HTMLUListElement>(listId);
  const load = async () => {
    try {
      const { rooms } = await api<{ rooms: RoomSummary[] }>('GET', '/api/rooms?status=live&sort=trending&limit=50');
      list.replaceChildren(...rooms.map((r) => roomItem(r, link(r.id))));
      if (!rooms.length) list.append(h('li', { class: 'muted' }, 'No one is live right now. Start one from the Host page.'));
    } catch (err) {
      list.replaceChildren(h('li', { class: 'muted' }, `Could not load the lives. ${humanError(err)}`));
    }
  };
  byId(refreshId).addEventListener('click', () => void load());
  void load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => clearInterval(timer);
}

function roomItem(r: RoomSummary, href: string): HTMLLIElement {
  return h(
    'li',
    { 'data-room': r.id },
    h('a', { class: 'watch', href }, r.title),
    ' ',
    r.status === 'live' ? h('span', { class: 'live-badge' }, 'LIVE') : null,
    h('p', { class: 'muted' }, `${r.hostName} · ${r.viewers} watching · ${r.hearts} hearts`),
    r.description ? h('p', {}, r.description) : null,
  );
}
