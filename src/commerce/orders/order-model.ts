/**
 * Orders as the merchant sees them: one entry of a room's orders stream (written by the checkout
 * script, sales/sale-scripts.ts, whatever sold it) read back as an Order. Pure.
 */
import type { Order, OrderKind } from '../../protocol/index.js';
import { ORDER_KINDS } from '../../protocol/index.js';

const num = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));

/** A stream entry's fields as an Order. Entries written before orders had a kind are sales. */
export function orderFromEntry(f: Record<string, string>): Order {
  const kind: OrderKind = ORDER_KINDS.includes(f.kind as OrderKind) ? (f.kind as OrderKind) : 'sale';
  const ledgerId = f.saleId ?? '';
  return {
    orderId: f.orderId ?? '',
    kind,
    roomId: f.roomId ?? '',
    ledgerId,
    saleId: kind === 'sale' ? ledgerId : null,
    holdId: f.holdId ?? '',
    productId: f.productId ?? '',
    userId: f.userId ?? '',
    userName: f.userName ?? '',
    qty: num(f.qty),
    unitPrice: num(f.unitPrice),
    amount: num(f.amount),
    // Orders written before vouchers have none: nothing off, the buyer pays the amount.
    voucherId: f.voucherId || null,
    discount: num(f.discount),
    paid: f.paid === undefined || f.paid === '' ? num(f.amount) : num(f.paid),
    currency: f.currency ?? '',
    requestId: f.requestId ?? '',
    createdAt: num(f.createdAt),
  };
}

/** Who may read one order: its buyer and the room's host (moderators list the room's orders). */
export const mayReadOrder = (order: Pick<Order, 'userId'>, room: { hostId: string }, userId: string): boolean =>
  order.userId === userId || room.hostId === userId;
