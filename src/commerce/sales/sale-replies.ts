/**
 * A sale script's reply as the store's typed result: the reserve batch's per-request answers
 * (refusals shared), the host's write refusals as client errors, stock frames. Pure.
 */
import type { SaleStock } from '../../protocol/index.js';
import { SALE_MAX_DURATION_SEC } from '../../protocol/index.js';
import { AppError, lateWrite } from '../../core/errors.js';
import { parseReserveAnswer, refusalError, reserveRefusal, type ReserveAnswer } from './sale-model.js';

export type Reply = [string, ...(string | number)[]];

/** `fresh`: this call decided (broadcast its effects); false: a replayed first answer. */
export interface Decided<A> {
  answer: A;
  fresh: boolean;
  /** Units that expired holds gave back during the call (the room should learn the stock). */
  swept: number;
}

/** Refusals with nothing swept, as whole results: a rush answers thousands of buyers the same
 * few (`NERR|SOLD_OUT|0`...), so each is made once (and its client error with it, refusalError). */
const sharedRefusals = new Map<string, Decided<ReserveAnswer>>();

/** One request's part of a reserve batch's reply (see ReserveDecoder), as the caller's answer. */
export function decideReserve(saleId: string, reply: string, swept: number): Decided<ReserveAnswer> {
  const kind = reply.charCodeAt(0); // N(ew), R(eplay), E(rror before deciding)
  if (reply.charCodeAt(1) === 79 /* 'O' of OK */) return { answer: parseReserveAnswer(saleId, reply.slice(1)), fresh: kind === 78 /* N */, swept };
  if (swept > 0) return refused(reply, swept);
  let shared = sharedRefusals.get(reply);
  if (!shared) {
    shared = Object.freeze(refused(reply, 0));
    if (sharedRefusals.size >= 1024) sharedRefusals.clear();
    sharedRefusals.set(reply, shared);
  }
  return shared;
}

function refused(reply: string, swept: number): Decided<ReserveAnswer> {
  const kind = reply.charCodeAt(0);
  const text = kind === 69 /* E */ ? `ERR|${reply.slice(1)}|0` : reply.slice(1);
  return { answer: reserveRefusal(text), fresh: kind === 78 /* N */, swept };
}

/** The requests-hash field of a host's write: `<kind>|<userId>|<requestId>`, or '' without a requestId. */
export function requestField(kind: 's' | 'k', by: string | undefined, requestId: string | undefined): string {
  return by !== undefined && requestId !== undefined ? `${kind}|${by}|${requestId}` : '';
}


export function createRefusal(code: string, maxRunning: number): AppError {
  if (code === 'LATE') return lateWrite();
  if (code === 'BAD_REQUEST') return new AppError('BAD_REQUEST', 'the sale must end after it starts');
  if (code === 'TOO_LONG') return new AppError('BAD_REQUEST', `a sale lasts at most 7 days (${SALE_MAX_DURATION_SEC} s): endsAt is too far ahead`);
  if (code === 'LIMIT_EXCEEDED') return new AppError('LIMIT_EXCEEDED', `at most ${maxRunning} sales may count down or run at once in a room`);
  return new AppError('CONFLICT', 'sale id already in use');
}

export function toStock(saleId: string, reply: unknown): SaleStock | null {
  const s = reply as string[] | null;
  return s ? { saleId, available: Number(s[0]), held: Number(s[1]), sold: Number(s[2]) } : null;
}

export function decided<A>(reply: Reply, what: 'sale' | 'hold', parse: (text: string) => A): Decided<A> {
  const [kind, text, swept] = reply;
  if (kind === 'ERR') throw refusalError({ ok: false, code: text as never, available: 0 }, what);
  return { answer: parse(String(text)), fresh: kind === 'NEW', swept: Number(swept ?? 0) };
}
