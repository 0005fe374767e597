/**
 * The viewer page, phone first: without ?room= it lists who is live; with it, the host's video
 * fills the screen and everything else floats over it — room and host on top with follow, the
 * viewer count and sign-in; hearts, share, sound and the bag on the right; the flash-sale strip,
 * the pinned product and the chat (input always visible) at the bottom. A bottom sheet holds the
 * account, reservations, the room's products and this viewer's orders. On a wide screen the chat
 * moves beside the video (CSS only). Guests may watch; signing in lets them chat, tap hearts, buy.
 */
import './styles.css';
import { applyBagChange, type JoinSnapshot, type PinState, type Product } from '../../src/protocol/index.js';
import { ViewerAuctionPanel } from './auction-viewer.js';
import { ViewerGiveawayPanel } from './giveaway-viewer.js';
import { BuyNowBook } from './buy-now.js';
import { ChatPanel } from './chat-panel.js';
import { busy, byId, formatMoney, h, roomParam, show, toast } from './dom.js';
import { Hearts } from './hearts.js';
import { LiveClient } from './live-client.js';
import { humanError } from './messages.js';
import { People } from './people.js';
import { productImage } from './product-view.js';
import { mountRoomList } from './room-list.js';
import { ViewerSalePanel, type HoldView } from './sale-viewer.js';
import { ViewerVoucherPanel } from './voucher-viewer.js';
import { SheetLists, type PlacedOrder } from './viewer-sheet-lists.js';
import { VideoPlayer } from './video-player.js';
import { currentSession, initial, mountAccount } from './session.js';

const roomId = roomParam();

if (!roomId) {
  show(byId('browse'), true);
  mountAccount(() => {}, 'account-home');
  mountRoomList();
} else {
  watch(roomId);
}

function watch(roomId: string): void {
  document.body.classList.add('watching');
  show(byId('watch'), true);
  let snapshot: JoinSnapshot | null = null;
  let bag: Product[] = [];
  let pin: PinState = { product: null, by: null, at: null };
  const saved = new Set<string>();
  const people = new People();

  const client = new LiveClient(currentSession()?.token ?? null, {
    onSnapshot: (snap) => {
      snapshot = snap;
      render(snap);
    },
    onRemoved: (why) => leave(why),
  });
  const chat = new ChatPanel(client, { variant: 'overlay', people });
  byId('chat-slot').replaceWith(chat.root);
  // The sheet's lists (holds, vouchers, orders), made once every panel they read exists.
  let lists: SheetLists | null = null;
  const renderHolds = () => lists?.renderHolds();
  const addOrder = (order: PlacedOrder, title: string) => lists?.addOrder(order, title);
  // Declared before the panels that ask it about vouchers for their holds.
  const vouchers: ViewerVoucherPanel = new ViewerVoucherPanel(client, byId('voucher'), byId('voucher-body'), {
    needSignIn: (what) => needSignIn(what),
    currency: () => bag[0]?.currency ?? sales.book.list()[0]?.currency ?? 'USD',
    claimsChanged: () => {
      renderHolds();
      lists?.renderMyVouchers();
      sales.refresh();
    },
  });
  const voucherNote = (holdId: string) => {
    const price = vouchers.priceOf(holdId);
    if (price) return { note: `Voucher −${formatMoney(price.discount, price.currency)} · you pay ${formatMoney(price.paid, price.currency)}`, canUse: false };
    return { note: '', canUse: vouchers.usableFor(holdId).length > 0 };
  };
  const sales = new ViewerSalePanel(client, byId('sale'), byId('sale-body'), {
    onHoldsChanged: (holds) => {
      saleHolds = holds;
      renderHolds();
    },
    onOrder: addOrder,
    onSalesChanged: () => {
      renderPin();
      renderBag();
    },
    onHoldEnded: (holdId) => vouchers.holdEnded(holdId),
    voucherFor: (holdId) => vouchers.appliedTo(holdId),
    voucherNote,
    openCheckout: (holdId) => openCheckout(holdId),
  });
  let saleHolds: HoldView[] = [];
  const auctions = new ViewerAuctionPanel(client, byId('auction'), byId('auction-body'), {
    onOrder: addOrder,
    onLotChanged: () => renderPin(),
    onWinChanged: () => renderHolds(),
    voucherFor: (holdId) => vouchers.appliedTo(holdId),
  });
  const giveaways = new ViewerGiveawayPanel(client, byId('giveaway'), byId('giveaway-body'), {
    onOrder: addOrder,
    needSignIn: (what) => needSignIn(what),
  });
  const buyNow = new BuyNowBook(client, {
    changed: () => {
      renderPin();
      renderBag();
      renderHolds();
    },
    onOrder: addOrder,
    // Bought with one tap: the hold waits in the sheet, its Check out at hand.
    onHold: (hold) => {
      openSheet('Your bag');
      document.querySelector<HTMLButtonElement>(`[data-hold="${CSS.escape(hold.holdId)}"] button.cta`)?.focus();
    },
    onHoldEnded: (holdId) => vouchers.holdEnded(holdId),
    voucherFor: (holdId) => vouchers.appliedTo(holdId),
  });
  lists = new SheetLists({ buyNow, sales, auctions, vouchers, saleHolds: () => saleHolds, currency: () => bag[0]?.currency ?? 'USD' });
  const player = new VideoPlayer(client, byId<HTMLVideoElement>('video'), byId('video-overlay'));
  const hearts = new Hearts(client, byId<HTMLButtonElement>('heart'), byId('hearts-total'), byId('hearts-layer'));

  const viewers = byId('viewer-count');
  const render = (snap: JoinSnapshot) => {
    byId('room-title').textContent = snap.room.title;
    document.title = `${snap.room.title} — Live Commerce`;
    byId('room-host').textContent = snap.room.hostName;
    byId('host-avatar').textContent = initial(snap.room.hostName);
    show(byId('room-live'), snap.room.status === 'live');
    viewers.textContent = String(snap.presence.viewers);
    bag = snap.commerce.bag;
    pin = snap.commerce.pinned;
    chat.load(snap);
    sales.load(snap);
    auctions.load(snap);
    giveaways.load(snap);
    buyNow.load(snap);
    vouchers.load(snap);
    player.load(snap);
    hearts.load(snap.hearts, snap.you !== null);
    // The host watching their own room has nobody to follow.
    show(byId('follow'), snap.you?.id !== snap.room.hostId);
    renderPin();
    renderBag();
  };

  const s = client.socket;
  s.on('presence:update', (p) => (viewers.textContent = String(p.viewers)));
  s.on('pin:changed', (p) => {
    pin = p;
    renderPin();
  });
  s.on('bag:changed', (change) => {
    bag = applyBagChange(bag, change);
    buyNow.learn(bag);
    if (change.change !== 'removed' && change.product.id === pin.product?.id) pin = { ...pin, product: change.product };
    renderPin();
    renderBag();
  });
  s.on('room:status', ({ room }) => {
    show(byId('room-live'), room.status === 'live');
    chat.setRoom(room);
    if (snapshot) snapshot.room = room;
  });

  // ---- the sheet: account, reservations, products, orders
  const sheet = byId<HTMLDialogElement>('sheet');
  const openSheet = (title: string, focus?: string) => {
    byId('sheet-title').textContent = title;
    if (!sheet.open) sheet.showModal();
    if (focus) document.getElementById(focus)?.focus();
  };
  // A tap on the dimmed backdrop (the dialog itself, outside its content) closes the sheet.
  sheet.addEventListener('click', (e) => {
    if (e.target === sheet) sheet.close();
  });
  byId('open-bag').addEventListener('click', () => openSheet('Your bag'));
  const meButton = byId<HTMLButtonElement>('me-button');
  meButton.addEventListener('click', () => openSheet(currentSession() ? 'You' : 'Sign in', 'signin-name'));

  const signedInAs = (name: string | null) => {
    meButton.textContent = name ? initial(name) : 'Sign in';
    meButton.setAttribute('aria-label', name ? `Signed in as ${name}: account and orders` : 'Sign in');
    meButton.classList.toggle('avatar-button', Boolean(name));
  };
  signedInAs(currentSession()?.user.name ?? null);
  mountAccount((session) => {
    signedInAs(session.user.name);
    if (sheet.open && byId('sheet-title').textContent === 'Sign in') sheet.close();
    if (snapshot && snapshot.you?.id !== session.user.id) client.reauthenticate(session.token);
  });

  // ---- follow and share (engage:*: they count toward the room's engagement score)
  const follow = byId<HTMLButtonElement>('follow');
  follow.addEventListener('click', () => {
    if (!currentSession()) return needSignIn('follow');
    void busy(follow, async () => {
      await client.request('engage:follow', {});
      follow.textContent = 'Following';
      follow.setAttribute('aria-pressed', 'true');
    });
  });
  const share = byId<HTMLButtonElement>('share');
  share.addEventListener('click', () =>
    void busy(share, async () => {
      const url = `${location.origin}/viewer.html?room=${encodeURIComponent(roomId)}`;
      const title = snapshot?.room.title ?? 'Live';
      if (typeof navigator.share === 'function') {
        // Closing the share sheet is not an error worth a toast.
        if (!(await navigator.share({ title, url }).then(() => true, () => false))) return;
      } else {
        await navigator.clipboard.writeText(url);
        toast('Link copied. Send it to a friend!', 'success', 2500);
      }
      if (currentSession()) await client.request('engage:share', {});
    }),
  );

  const needSignIn = (what: string) => {
    toast(`Sign in to ${what}.`, 'info', 2500);
    openSheet('Sign in', 'signin-name');
  };

  // ---- sound: browsers autoplay muted; sound is one tap
  const video = byId<HTMLVideoElement>('video');
  const unmute = byId<HTMLButtonElement>('unmute');
  unmute.addEventListener('click', () => {
    video.muted = !video.muted;
    unmute.classList.toggle('sound-is-on', !video.muted);
    unmute.setAttribute('aria-label', video.muted ? 'Turn sound on' : 'Turn sound off');
    unmute.setAttribute('aria-pressed', String(!video.muted));
    void video.play().catch(() => {});
  });

  // ---- the pinned product over the video (hidden while its flash sale's or auction's strip shows it)
  function renderPin(): void {
    const body = byId('pinned-body');
    const product = pin.product;
    const onSale = product ? (sales.activeSaleOf(product.id) ?? auctions.openLotOf(product.id)) : null;
    show(byId('pinned'), Boolean(product) && !onSale);
    if (!product || onSale) {
      body.replaceChildren();
      return;
    }
    const current = body.querySelector<HTMLElement>('article');
    // Rebuilt only when something it shows changed, so a focused button keeps its focus.
    if (current?.dataset.product === product.id && current.dataset.key === cardKey(product)) return;
    body.replaceChildren(productCardFor(product, 'pin'));
  }

  function productCardFor(p: Product, where: 'pin' | 'bag'): HTMLElement {
    const isSaved = saved.has(p.id);
    const sale = sales.activeSaleOf(p.id);
    const save: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: 'ghost save',
        'aria-pressed': String(isSaved),
        'aria-label': `${isSaved ? 'Saved' : 'Save'} ${p.title}`,
        onclick: () => {
          if (!currentSession()) return needSignIn('save products');
          void busy(save, async () => {
            await client.request('engage:save', { productId: p.id });
            saved.add(p.id);
            renderPin();
            renderBag();
            toast(`${p.title} saved`, 'success', 2000);
          });
        },
      },
      isSaved ? '♥ Saved' : '♡ Save',
    );
    // Buy now: a product with stock of its own, bought at its price. Without stock the slot stays
    // hidden (flash sales sell through Reserve); at 0 it says so, neutrally.
    const available = buyNow.available(p);
    const buy: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: available === 0 ? 'ghost buy' : 'cta buy',
        'data-slot': 'buy',
        hidden: available === null,
        disabled: available === 0,
        'aria-label': available === 0 ? `${p.title} is sold out` : `Buy ${p.title} for ${formatMoney(p.price, p.currency)}`,
        onclick: () => {
          if (!currentSession()) return needSignIn('buy');
          void buyNow.reserve(p, buy);
        },
      },
      available === 0 ? 'Sold out' : 'Buy',
    );
    return h(
      'article',
      { class: `product-card ${where}-card`, 'data-product': p.id, 'data-saved': String(isSaved), 'data-key': cardKey(p), 'aria-label': p.title },
      productImage(p),
      h(
        'div',
        { class: 'product-text' },
        h('h3', { class: 'product-title' }, p.title),
        p.brand || p.merchant ? h('p', { class: 'muted' }, [p.brand, p.merchant].filter(Boolean).join(' · ')) : null,
        h(
          'p',
          { class: 'price-line' },
          sale ? h('span', { class: 'price' }, formatMoney(sale.price, sale.currency)) : h('span', { class: 'price' }, formatMoney(p.price, p.currency)),
          sale ? h('s', {}, formatMoney(p.price, p.currency)) : null,
          sale ? h('span', { class: 'flash small-flash' }, '⚡ on sale now') : null,
          available !== null && available > 0 ? h('span', { class: 'stock-left', 'data-testid': 'buy-stock' }, ` · ${available} left`) : null,
        ),
      ),
      h('div', { class: 'product-actions' }, buy, save),
    );
  }

  function renderBag(): void {
    const list = byId('bag');
    list.replaceChildren(...bag.map((p) => h('li', {}, productCardFor(p, 'bag'))));
    if (!bag.length) list.append(h('li', { class: 'muted' }, 'No products in this live yet.'));
    const count = byId('bag-count');
    count.textContent = String(bag.length);
    show(count, bag.length > 0);
    byId('open-bag').setAttribute('aria-label', `Your bag: ${bag.length} product${bag.length === 1 ? '' : 's'} in this live`);
  }

  /** What a product card shows, as a string: a change means the card is rebuilt. */
  function cardKey(p: Product): string {
    return [p.title, p.price, p.imageUrl, saved.has(p.id), buyNow.available(p), sales.activeSaleOf(p.id)?.id].join('|');
  }

  /** The sheet at one hold's checkout, its voucher picker focused. */
  function openCheckout(holdId: string): void {
    openSheet('Your bag');
    lists?.focusCheckout(holdId);
  }
  renderHolds();

  client.join(roomId).catch((err: unknown) => leave(joinRefused(err)));
}

/** Out of the room (banned, ended, refused): say why and offer the way back to the list. */
function leave(why: string): void {
  document.body.classList.remove('watching');
  (document.getElementById('sheet') as HTMLDialogElement | null)?.close();
  const title = document.getElementById('room-title')?.textContent;
  const host = document.getElementById('room-host')?.textContent;
  const box = byId('removed');
  box.replaceChildren(h('p', { class: 'removed-why' }, why), h('a', { class: 'button-link', href: '/viewer.html' }, 'See who else is live'));
  if (title && title !== 'Live') box.prepend(h('p', { class: 'removed-room' }, title, host ? h('span', { class: 'muted' }, ` · ${host}`) : null));
  show(box, true);
  show(byId('watch'), false);
}

/** Why a join was refused, in a sentence: a ban is named as such (the person may wonder). */
function joinRefused(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'BANNED') return 'You were banned from this live by a moderator.';
  return humanError(err);
}
