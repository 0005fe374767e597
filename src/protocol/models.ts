/**
 * Shapes the server sends to clients. Plain TypeScript types: the server produces them, so they
 * need no runtime validation; clients (tests, client-demo) import them for typing.
 */
import type { SalesSnapshot } from './sales-events.js';
import type { BuyNowSnapshot } from './orders-events.js';
import type { AuctionsSnapshot } from './auction-events.js';
import type { GiveawaysSnapshot } from './giveaway-events.js';
import type { VouchersSnapshot } from './voucher-events.js';

export type Role = 'host' | 'moderator' | 'viewer' | 'guest';

export interface UserRef {
  id: string;
  name: string;
}

export type RoomStatus = 'scheduled' | 'live' | 'ended';

export interface Room {
  id: string;
  title: string;
  description: string;
  hostId: string;
  hostName: string;
  /** 'buyer' curates other merchants' goods, 'manager' sells their own brand. */
  hostKind: 'buyer' | 'manager';
  isPublic: boolean;
  status: RoomStatus;
  moderatorIds: string[];
  scheduledStart: number | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

/** A room in listings: the record plus its live counters. */
export interface RoomSummary extends Room {
  viewers: number;
  peakViewers: number;
  hearts: number;
  engagement: number;
}

export interface Product {
  id: string;
  title: string;
  imageUrl: string | null;
  /** Price in minor units (cents, fen) to avoid float rounding. */
  price: number;
  currency: string;
  merchant: string | null;
  brand: string | null;
  /**
   * Buy-now units as the host last set them; absent or null: not for sale outside flash sales.
   * The live count (after buyers' holds and orders) is the join snapshot's `buyNow.stock` and
   * the `buy:stock` events.
   */
  stock?: number | null;
  /** Buy-now units one person may hold + buy (default BUY_NOW_DEFAULT_LIMIT). */
  perUserLimit?: number;
}

/**
 * `bag:changed`: one product added (at the end of the bag), updated (in place) or removed. Only
 * the change travels; the whole bag is in the join snapshot and at GET /api/rooms/:id/products.
 */
export type BagChange =
  | { change: 'added'; product: Product }
  | { change: 'updated'; product: Product }
  | { change: 'removed'; productId: string };

/** A client's bag after one `bag:changed` (pure; the demo client and tests use it). */
export function applyBagChange(bag: readonly Product[], c: BagChange): Product[] {
  if (c.change === 'removed') return bag.filter((p) => p.id !== c.productId);
  if (c.change === 'updated') return bag.map((p) => (p.id === c.product.id ? c.product : p));
  return [...bag.filter((p) => p.id !== c.product.id), c.product];
}

export interface ChatMessage {
  id: string;
  user: UserRef;
  text: string;
  at: number;
}

export interface PinState {
  product: Product | null;
  by: string | null;
  at: number | null;
}

export interface AuditEntry {
  id: string;
  action: string;
  actor: UserRef;
  targetUserId: string | null;
  /** The target's name as last seen in the room's chat (null when unknown or no target). */
  targetName: string | null;
  /** By action: delete `{ messageId, text }` (the text as deleted), mute `{ seconds, until }`,
   * ban `{ reason? }`, slow-mode `{ seconds }`, blocked-words `{ count }`. */
  detail: Record<string, unknown>;
  at: number;
}

export interface PresenceCounts {
  /** Unique viewers now: signed-in users once however many connections, each guest connection once; never the host or moderators. */
  viewers: number;
  /** Unique host and moderators connected now. */
  staff: number;
  /** Highest `viewers` so far. */
  peak: number;
}

export interface RoomStats extends PresenceCounts {
  hearts: number;
  engagement: number;
  chatMessages: number;
}

export interface ModerationSettings {
  slowModeSeconds: number;
  blockedWords: string[];
}

/**
 * `room:role`: the connection's role in its room changed (a moderator appointed or removed while
 * connected, or while its transport was down). `moderation` is what the join snapshot gives this
 * role: staff get the blocked-word list, everyone else only the slow mode (an empty list).
 */
export interface RoleUpdate {
  roomId: string;
  role: Role;
  moderation: ModerationSettings;
  [part: string]: unknown;
}

/**
 * What room:join answers with. Each domain contributes its part; `parts` grows as domains
 * (flash sales, media) are added without touching the others.
 */
export interface JoinSnapshot {
  room: Room;
  role: Role;
  you: UserRef | null;
  presence: PresenceCounts;
  hearts: number;
  engagement: number;
  chat: { messages: ChatMessage[]; moderation: ModerationSettings };
  commerce: { bag: Product[]; pinned: PinState };
  sales: SalesSnapshot;
  buyNow: BuyNowSnapshot;
  auctions: AuctionsSnapshot;
  giveaways: GiveawaysSnapshot;
  vouchers: VouchersSnapshot;
  [part: string]: unknown;
}
