/**
 * The host studio, usable while on camera: at 1280×800 the preview, the chat and the live
 * dashboard are on screen together without scrolling (three columns). Products and pins, flash
 * sales, moderators (appointed by picking a person from the chat) and moderation sit in the side
 * columns. Destructive actions are confirmed (End live, Ban, Stop sale). After End live the
 * studio turns into an end-of-show summary with every control disabled.
 */
import './styles.css';
import { applyBagChange, createRoomBody, productBody, type BuyNowStock, type JoinSnapshot, type PinState, type Product, type Room, type RoomStats } from '../../src/protocol/index.js';
import { CameraPublisher } from './camera-publisher.js';
import { ChatPanel } from './chat-panel.js';
import { busy, byId, confirmDialog, formatMoney, formValues, h, minorDigits, roomParam, setRoomParam, show, toast } from './dom.js';
import { LiveClient } from './live-client.js';
import { humanError } from './messages.js';
import { ModerationPanel } from './moderation-panel.js';
import { People } from './people.js';
import { productImage } from './product-view.js';
import { HostSalePanel } from './sale-host.js';
import { HostAuctionPanel } from './auction-host.js';
import { HostGiveawayPanel } from './giveaway-host.js';
import { HostVoucherPanel } from './voucher-host.js';
import { api, check, mountAccount, type Session } from './session.js';
import { orderTotals, renderSummary, summaryFromHttp, type ShowSummary } from './show-summary.js';

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
  let stats: RoomStats | null = null;
  /** Live buy-now stock per product (buy:stock), over the bag's last-set figure. */
  const buyStock = new Map<string, BuyNowStock>();
  const people = new People();

  const client = new LiveClient(session.token, {
    onSnapshot: (snap) => render(snap),
    onRemoved: (why) => {
      // Our own End live evicts us too: the summary already says so.
      if (room?.status !== 'ended') toast(why, 'error', 10_000);
    },
  });
  const appointUser = async (user: { id: string; name: string }) => {
    people.learn(user);
    setRoom((await api<{ room: Room }>('PUT', `/api/rooms/${roomId}/moderators/${encodeURIComponent(user.id)}`)).room);
  };
  const chat = new ChatPanel(client, { variant: 'panel', people, onModerated: () => void moderation.refreshAudit(), onAppoint: appointUser });
  const moderation = new ModerationPanel(client, people);
  byId('chat-slot').replaceWith(chat.root);
  byId('moderation-slot').replaceWith(moderation.root);
  const sales = new HostSalePanel(client, (f, currency) => {
    setStat('orders', f.orders);
    setStat('units', f.unitsSold);
    setStat('gmv', formatMoney(f.gmv, currency));
    setStat('conversion', `${(f.conversion * 100).toFixed(1)}%`);
    setStat('voucher-claims', f.vouchers.claims);
    setStat('voucher-redemptions', f.vouchers.redemptions);
    setStat('voucher-discount', formatMoney(f.vouchers.discount, currency));
  });
  byId('sale-body').replaceWith(sales.root);
  const auctions = new HostAuctionPanel(client);
  byId('auction-body').replaceWith(auctions.root);
  const giveaways = new HostGiveawayPanel(client);
  byId('giveaway-body').replaceWith(giveaways.root);
  const vouchers = new HostVoucherPanel(client, roomId, () => sales.figuresCurrency);
  byId('voucher-body').replaceWith(vouchers.root);

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
    bag = snap.commerce.bag;
    buyStock.clear();
    for (const st of snap.buyNow?.stock ?? []) buyStock.set(st.productId, st);
    pinnedId = snap.commerce.pinned.product?.id ?? null;
    sales.load(snap);
    auctions.load(snap);
    giveaways.load(snap);
    vouchers.load(snap);
    chat.load(snap);
    moderation.load(snap);
    setRoom(snap.room);
    renderProducts();
    setStat('viewers', snap.presence.viewers);
    setStat('peak', snap.presence.peak);
    setStat('hearts', snap.hearts);
    setStat('engagement', snap.engagement);
    refreshStats(); // the rest (chat count, sales figures) is not in the snapshot
  };

  const setRoom = (r: Room) => {
    room = r;
    byId('room-name').textContent = r.title;
    document.title = `${r.title} — Host studio`;
    show(byId('live-badge'), r.status === 'live');
    const viewerUrl = `${location.origin}/viewer.html?room=${encodeURIComponent(r.id)}`;
    const modUrl = `${location.origin}/moderator.html?room=${encodeURIComponent(r.id)}`;
    Object.assign(byId<HTMLAnchorElement>('viewer-link'), { href: viewerUrl, textContent: viewerUrl });
    Object.assign(byId<HTMLAnchorElement>('mod-link'), { href: modUrl, textContent: modUrl });
    chat.setRoom(r);
    renderTeam();
    renderLiveControls();
  };

  // ---- moderators: names, picked from the people in chat
  const renderTeam = () => {
    const mods = room?.moderatorIds ?? [];
    const list = byId('moderators');
    list.replaceChildren(
      ...mods.map((id) => {
        const remove: HTMLButtonElement = h(
          'button',
          {
            type: 'button',
            class: 'small',
            'aria-label': `Remove ${people.name(id)} as moderator`,
            onclick: () =>
              void busy(remove, async () => {
                setRoom((await api<{ room: Room }>('DELETE', `/api/rooms/${roomId}/moderators/${encodeURIComponent(id)}`)).room);
                toast(`${people.name(id)} is no longer a moderator`, 'success');
              }),
          },
          'Remove',
        );
        return h('li', { 'data-user': id }, h('span', { class: 'avatar small-avatar', 'aria-hidden': 'true' }, people.name(id)[0]?.toUpperCase() ?? '?'), h('span', { class: 'grow' }, people.name(id)), remove);
      }),
    );
    if (!mods.length) list.append(h('li', { class: 'muted' }, 'No moderators yet.'));
    const select = byId<HTMLSelectElement>('appoint-user');
    const chosen = select.value;
    const candidates = [...chat.authors()].filter((u) => u.id !== room?.hostId && !mods.includes(u.id));
    select.replaceChildren(
      h('option', { value: '' }, candidates.length ? 'Pick someone from the chat…' : 'Nobody in chat yet'),
      ...candidates.map((u) => h('option', { value: u.id }, u.name)),
    );
    if (candidates.some((u) => u.id === chosen)) select.value = chosen;
  };
  people.onChange(renderTeam);
  const appoint = byId<HTMLFormElement>('appoint');
  appoint.addEventListener('submit', (e) => {
    e.preventDefault();
    const userId = formValues(appoint).userId ?? '';
    if (!userId) return;
    void busy(appoint.querySelector('button'), async () => {
      await appointUser({ id: userId, name: people.name(userId) });
      toast(`${people.name(userId)} is now a moderator`, 'success');
    });
  });

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
          h(
            'div',
            { class: 'grow' },
            h('strong', {}, p.title),
            h('br'),
            h('span', { class: 'price' }, formatMoney(p.price, p.currency)),
            pinned ? h('span', { class: 'badge' }, 'Pinned') : null,
            buyStock.has(p.id) || typeof p.stock === 'number' ? h('span', { class: 'muted small-text', 'data-testid': 'buy-stock' }, ` · buy now: ${buyStock.get(p.id)?.available ?? p.stock} left`) : null,
          ),
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
    // With products in place the form steps aside, so the sale and chat keep the room.
    if (bag.length >= 2) byId<HTMLDetailsElement>('add-product-box').open = false;
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
        // Empty: sold only through flash sales; a number: that many units to buy now at the price.
        ...(v.stock?.trim() ? { stock: Number(v.stock) } : {}),
      });
      const { product } = await api<{ product: Product }>('POST', `/api/rooms/${roomId}/products`, body);
      if (!bag.some((p) => p.id === product.id)) bag = [...bag, product];
      renderProducts();
      sales.setBag(bag);
      auctions.setBag(bag);
      addForm.reset();
      toast(`${product.title} added`, 'success');
      byId<HTMLInputElement>('product-title').focus();
    });
  });

  // ---- going live, on-air time, ending
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
  setInterval(() => {
    const started = room?.status === 'live' ? room.startedAt : null;
    byId('on-air').textContent = started ? `On air ${clock(Date.now() - started)}` : '';
  }, 1000);
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
  byId('end-live').addEventListener('click', (e) => {
    const button = e.currentTarget as HTMLButtonElement;
    void (async () => {
      const sure = await confirmDialog({ title: 'End this live?', body: 'Viewers are sent away, open sales end and the studio shows the summary. This cannot be undone.', confirm: 'End live', danger: true });
      if (!sure) return;
      const ended = await busy(button, async () => {
        // The last figures first: once ended, the room's socket events are closed to us.
        await Promise.allSettled([refreshStatsNow(), sales.pollFigures()]);
        const { room: ended } = await api<{ room: Room }>('POST', `/api/rooms/${roomId}/end`);
        await camera.stop();
        preview.srcObject = null;
        return ended;
      });
      // After busy() has given the button back, so the summary's "all disabled" is the last word.
      if (!ended) return;
      setRoom(ended);
      const orders = await orderTotals(roomId, titleOf);
      endOfShow({ room: ended, stats, figures: sales.lastFigures, currency: sales.figuresCurrency, titles: saleTitles(), orders });
    })();
  });

  const titleOf = (productId: string) => bag.find((p) => p.id === productId)?.title ?? 'A product';
  const saleTitles = () => new Map([...sales.book.sales.values()].map((s) => [s.id, s.title]));

  /** The studio after the show: the summary where the preview was, every control disabled. */
  const endOfShow = (summary: ShowSummary) => {
    clearInterval(poll);
    sales.endAll();
    auctions.endAll();
    const studio = byId('studio');
    studio.classList.add('ended');
    show(byId('studio'), true);
    show(byId('preview-box'), false);
    const box = byId('summary');
    renderSummary(box, summary);
    show(box, true);
    status.textContent = 'Live ended';
    byId('on-air').textContent = '';
    const disableAll = () => {
      for (const el of studio.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('button, input, select, textarea')) el.disabled = true;
      for (const el of studio.querySelectorAll('details.msg-menu')) el.remove();
    };
    disableAll();
    // Lists re-rendered later (a name learned, a late event) come back disabled too.
    new MutationObserver(disableAll).observe(studio, { childList: true, subtree: true });
    box.focus();
  };

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
    auctions.setBag(bag);
    giveaways.setBag(bag);
  });
  s.on('room:status', ({ room: r }) => setRoom(r));
  const stockChanged = (st: BuyNowStock) => {
    buyStock.set(st.productId, st);
    renderProducts();
  };
  s.on('buy:stock', stockChanged);
  s.on('buy:sold-out', stockChanged);
  s.on('buy:bought', ({ name, qty, productId }) => toast(`${name} bought ${qty} × ${bag.find((p) => p.id === productId)?.title ?? 'a product'}`, 'success', 3000));
  const refreshStatsNow = async () => {
    const st = await client.request('room:stats', {});
    stats = st;
    setStat('viewers', st.viewers);
    setStat('peak', st.peak);
    setStat('hearts', st.hearts);
    setStat('engagement', st.engagement);
    setStat('chat', st.chatMessages);
  };
  const refreshStats = () => {
    if (!client.connected || !room || room.status === 'ended') return;
    refreshStatsNow().catch(() => {}); // the next tick tries again; a dashboard gap is not worth a toast
    sales.pollFigures().catch(() => {});
    giveaways.pollFigures().catch(() => {});
    vouchers.pollFigures().catch(() => {});
  };
  const poll = setInterval(refreshStats, STATS_POLL_MS);

  client.join(roomId).catch((err: unknown) => {
    const code = (err as { code?: string }).code;
    if (code !== 'ROOM_ENDED') return toast(`Could not open the room. ${humanError(err)}`, 'error', 10_000);
    // Reopened after the show: the summary from what the server still keeps.
    void (async () => {
      const summary = await summaryFromHttp(roomId);
      const { products } = await api<{ products: Product[] }>('GET', `/api/rooms/${roomId}/products`).catch(() => ({ products: [] as Product[] }));
      bag = products;
      setRoom(summary.room);
      endOfShow({ ...summary, orders: await orderTotals(roomId, titleOf) });
    })();
  });
}

function setStat(name: string, value: number | string): void {
  const el = document.getElementById(`stat-${name}`);
  if (el) el.textContent = String(value);
}

/** "1:05:09" / "4:07" for an elapsed time. */
function clock(ms: number): string {
  const t = Math.max(0, Math.floor(ms / 1000));
  const hms = [Math.floor(t / 3600), Math.floor(t / 60) % 60, t % 60];
  return hms[0] ? `${hms[0]}:${String(hms[1]).padStart(2, '0')}:${String(hms[2]).padStart(2, '0')}` : `${hms[1]}:${String(hms[2]).padStart(2, '0')}`;
}

/** "19.99" USD → 1999; the server wants integer minor units. NaN fails the schema check. */
function toMinorUnits(text: string, currency: string): number {
  const value = Number(text.trim().replace(',', '.'));
  return Math.round(value * 10 ** minorDigits(currency || 'USD'));
}
