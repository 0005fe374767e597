/**
 * The host studio: sign in, create a room (or reopen ?room=), add products, go live with camera
 * and microphone, pin products, run flash sales, watch the live dashboard, and moderate chat.
 */
import './styles.css';
import { applyBagChange, createRoomBody, productBody, type JoinSnapshot, type PinState, type Product, type Room } from '../../src/protocol/index.js';
import { CameraPublisher } from './camera-publisher.js';
import { ChatPanel } from './chat-panel.js';
import { People } from './people.js';
import { busy, byId, formatMoney, formValues, h, minorDigits, roomParam, setRoomParam, show, toast } from './dom.js';
import { LiveClient } from './live-client.js';
import { ModerationPanel } from './moderation-panel.js';
import { productImage } from './product-view.js';
import { HostSalePanel } from './sale-host.js';
import { api, check, mountAccount, type Session } from './session.js';

const STATS_POLL_MS = 2000;

mountAccount((session) => {
  show(byId('signin-hint'), false);
  const existing = roomParam();
  if (existing) openStudio(session, existing);
  else showSetup(session);
});
if (!byId('account').querySelector('[data-testid="me"]')) show(byId('signin-hint'), true);

function showSetup(session: Session): void {
  const setup = byId('setup');
  show(setup, true);
  const form = byId<HTMLFormElement>('create-room');
  byId<HTMLInputElement>('room-title-input').value ||= `${session.user.name}'s live`;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(form.querySelector('button'), async () => {
      const body = check(createRoomBody, formValues(form));
      const { room } = await api<{ room: Room }>('POST', '/api/rooms', body);
      setRoomParam(room.id);
      show(setup, false);
      openStudio(session, room.id);
    });
  });
}

function openStudio(session: Session, roomId: string): void {
  let room: Room | null = null;
  let bag: Product[] = [];
  let pinnedId: string | null = null;

  const client = new LiveClient(session.token, {
    onSnapshot: (snap) => render(snap),
    onRemoved: (why) => toast(why, 'error', 10_000),
  });
  const chat = new ChatPanel(client, { variant: 'panel', people: new People(), onModerated: () => void moderation.refreshAudit() });
  const moderation = new ModerationPanel(client);
  byId('chat-slot').replaceWith(chat.root);
  byId('moderation-slot').replaceWith(moderation.root);
  const sales = new HostSalePanel(client, (f, currency) => {
    setStat('orders', f.orders);
    setStat('units', f.unitsSold);
    setStat('gmv', formatMoney(f.gmv, currency));
    setStat('conversion', `${(f.conversion * 100).toFixed(1)}%`);
  });
  byId('sale-body').replaceWith(sales.root);

  let joinedBefore = false;
  const render = (snap: JoinSnapshot) => {
    if (snap.role !== 'host') {
      toast('You are not the host of this room.', 'error', 10_000);
      return;
    }
    show(byId('studio'), true);
    // A second snapshot means a fresh join after a drop: the server dropped our producers.
    if (joinedBefore && camera.active) void camera.rejoined();
    joinedBefore = true;
    setRoom(snap.room);
    bag = snap.commerce.bag;
    pinnedId = snap.commerce.pinned.product?.id ?? null;
    renderProducts();
    sales.load(snap);
    chat.load(snap);
    moderation.load(snap);
    setStat('viewers', snap.presence.viewers);
    setStat('peak', snap.presence.peak);
    setStat('hearts', snap.hearts);
    setStat('engagement', snap.engagement);
    refreshStats(); // the rest (chat count, sales figures) is not in the snapshot
  };

  const setRoom = (r: Room) => {
    room = r;
    byId('room-name').textContent = r.title;
    show(byId('live-badge'), r.status === 'live');
    const viewerUrl = `${location.origin}/viewer.html?room=${encodeURIComponent(r.id)}`;
    const modUrl = `${location.origin}/moderator.html?room=${encodeURIComponent(r.id)}`;
    Object.assign(byId<HTMLAnchorElement>('viewer-link'), { href: viewerUrl, textContent: viewerUrl });
    Object.assign(byId<HTMLAnchorElement>('mod-link'), { href: modUrl, textContent: modUrl });
    byId('moderators').replaceChildren(...r.moderatorIds.map((id) => h('li', {}, h('code', {}, id))));
    renderLiveControls();
  };

  // ---- products and pins
  const renderProducts = () => {
    const list = byId('products');
    list.replaceChildren(
      ...bag.map((p) => {
        const pinned = p.id === pinnedId;
        return h(
          'li',
          { class: pinned ? 'pinned' : null, 'data-product': p.id },
          productImage(p),
          h('div', { class: 'grow' }, h('strong', {}, p.title), h('br'), h('span', { class: 'price' }, formatMoney(p.price, p.currency)), pinned ? h('span', { class: 'badge' }, 'Pinned') : null),
          h(
            'button',
            {
              type: 'button',
              class: pinned ? 'secondary' : null,
              'aria-label': `${pinned ? 'Unpin' : 'Pin'} ${p.title}`,
              onclick: (e: Event) =>
                void busy(e.currentTarget as HTMLButtonElement, async () => {
                  onPin(pinned ? await client.request('pin:clear', {}) : await client.request('pin:set', { productId: p.id }));
                }),
            },
            pinned ? 'Unpin' : 'Pin',
          ),
        );
      }),
    );
    if (!bag.length) list.append(h('li', { class: 'muted' }, 'No products yet — add one below.'));
  };
  const onPin = (pin: PinState) => {
    pinnedId = pin.product?.id ?? null;
    renderProducts();
  };

  const addForm = byId<HTMLFormElement>('add-product');
  addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(addForm.querySelector('button'), async () => {
      const v = formValues(addForm);
      const currency = (v.currency ?? '').trim().toUpperCase();
      const body = check(productBody, {
        title: v.title,
        price: toMinorUnits(v.price ?? '', currency),
        currency,
        brand: v.brand?.trim() || null,
        imageUrl: v.imageUrl?.trim() || null,
      });
      const { product } = await api<{ product: Product }>('POST', `/api/rooms/${roomId}/products`, body);
      if (!bag.some((p) => p.id === product.id)) bag = [...bag, product];
      renderProducts();
      sales.setBag(bag);
      addForm.reset();
      toast(`${product.title} added`, 'success');
      byId<HTMLInputElement>('product-title').focus();
    });
  });

  // ---- going live
  const preview = byId<HTMLVideoElement>('preview');
  const status = byId('media-status');
  const camera = new CameraPublisher(client, (text) => (status.textContent = text));
  // After a reload the room may already be live without a camera: offer to start it again.
  const renderLiveControls = () => {
    const live = room?.status === 'live';
    const goLive = byId('go-live');
    goLive.textContent = live ? 'Start camera' : 'Go live';
    show(goLive, room?.status !== 'ended' && !(live && camera.active));
    show(byId('end-live'), live);
  };
  byId('go-live').addEventListener('click', (e) =>
    void busy(e.currentTarget as HTMLButtonElement, async () => {
      status.textContent = 'Starting camera…';
      preview.srcObject = await camera.start();
      show(byId('preview-overlay'), false);
      // Live first: viewers may only consume once the room is live.
      if (room?.status !== 'live') setRoom((await api<{ room: Room }>('POST', `/api/rooms/${roomId}/live`)).room);
      renderLiveControls();
      toast('You are live!', 'success');
      await camera.publish();
    }),
  );
  byId('end-live').addEventListener('click', (e) =>
    void busy(e.currentTarget as HTMLButtonElement, async () => {
      const { room: ended } = await api<{ room: Room }>('POST', `/api/rooms/${roomId}/end`);
      await camera.stop();
      preview.srcObject = null;
      show(byId('preview-overlay'), true);
      setRoom(ended);
      status.textContent = 'Live ended';
    }),
  );

  // ---- moderators
  const appoint = byId<HTMLFormElement>('appoint');
  appoint.addEventListener('submit', (e) => {
    e.preventDefault();
    const userId = (formValues(appoint).userId ?? '').trim();
    void busy(appoint.querySelector('button'), async () => {
      setRoom((await api<{ room: Room }>('PUT', `/api/rooms/${roomId}/moderators/${encodeURIComponent(userId)}`)).room);
      appoint.reset();
      toast(`${userId} is now a moderator`, 'success');
    });
  });

  // ---- dashboard: pushed counters plus a light poll of the staff-only totals
  const s = client.socket;
  s.on('presence:update', (p) => {
    setStat('viewers', p.viewers);
    setStat('peak', p.peak);
  });
  s.on('hearts:update', (p) => setStat('hearts', p.total));
  s.on('pin:changed', onPin);
  s.on('bag:changed', (change) => {
    bag = applyBagChange(bag, change);
    renderProducts();
    sales.setBag(bag);
  });
  s.on('room:status', ({ room: r }) => setRoom(r));
  const refreshStats = () => {
    if (!client.connected || !room) return;
    client
      .request('room:stats', {})
      .then((st) => {
        setStat('viewers', st.viewers);
        setStat('peak', st.peak);
        setStat('hearts', st.hearts);
        setStat('engagement', st.engagement);
        setStat('chat', st.chatMessages);
      })
      .catch(() => {}); // the next tick tries again; a dashboard gap is not worth a toast
    sales.pollFigures().catch(() => {});
  };
  setInterval(refreshStats, STATS_POLL_MS);

  client.join(roomId).catch((err: Error) => toast(`Could not open the room: ${err.message}`, 'error', 10_000));
}

function setStat(name: string, value: number | string): void {
  const el = document.getElementById(`stat-${name}`);
  if (el) el.textContent = String(value);
}

/** "19.99" USD → 1999; the server wants integer minor units. NaN fails the schema check. */
function toMinorUnits(text: string, currency: string): number {
  const value = Number(text.trim().replace(',', '.'));
  return Math.round(value * 10 ** minorDigits(currency || 'USD'));
}
