/**
 * Pure rules of buy-now: which ledger backs a product's stock and what a refusal says to a buyer.
 * The units themselves live in a standing ledger (sales/standing-ledger.ts) and move through the
 * flash-sale scripts, so the rules of holds, limits and idempotency are the sales' own.
 */
import { AppError } from '../../core/errors.js';
import { refusalError, type Refusal } from '../sales/sale-model.js';
import { standingLedgerId } from '../sales/standing-ledger.js';

/** Buy-now offer ids: `s_bn-` + 22 base64url characters of the product id's SHA-256. */
export const OFFER_PREFIX = 's_bn-';

/**
 * The offer (ledger) id of a product. Derived, not stored: a product removed and added again, or
 * edited on two nodes at once, always lands on the same ledger, and a hold id names its offer.
 */
export const offerIdFor = (productId: string): string => standingLedgerId('bn', productId);

export const isOfferId = (ledgerId: string): boolean => ledgerId.startsWith(OFFER_PREFIX);

const MESSAGES: Partial<Record<string, string>> = {
  NOT_FOUND: 'this product is not for sale outside flash sales',
  SALE_ENDED: 'this product is no longer for sale: the live has ended',
  SALE_NOT_STARTED: 'this product is not for sale yet',
  LIMIT_EXCEEDED: 'that would exceed the per-person limit of this product',
};

/** A refusal of a buy-now reserve (NOT_FOUND: not for sale) or of its hold ('hold'). */
export function buyNowRefusal(r: Refusal, what: 'product' | 'hold'): AppError {
  if (what === 'product' && MESSAGES[r.code]) return new AppError(r.code, MESSAGES[r.code]!);
  return refusalError(r, what === 'hold' ? 'hold' : 'sale');
}

/** A waitlist refusal (worded for sales by the waitlist store) in buy-now's words where they differ. */
export function buyNowWaitlistError(err: unknown): unknown {
  if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'SALE_ENDED')) return new AppError(err.code, MESSAGES[err.code]!);
  return err;
}
