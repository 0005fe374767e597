/**
 * The payload generator of the fuzz tests. Given an event's schema and a payload that passes it
 * (with real room, product, sale and hold ids, so validation and the handler's own checks would
 * succeed), it yields payloads that change one thing at a time: a field given a wrong type, a
 * boundary value, a hostile string or a random JSON value; a field dropped; an unknown field
 * added; the whole payload replaced. Deterministic for a seed.
 */
import fc from 'fast-check';
import { z } from 'zod';

/** The object schema under optional()/default()/pipe(), or null for non-object payloads. */
export function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else break;
  }
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : null;
}

const deep = (n: number): unknown => (n === 0 ? {} : { a: deep(n - 1) });

/** Values that have broken real servers: type confusion, edges, key-like and unicode strings. */
export const HOSTILE_VALUES: unknown[] = [
  null, true, false, 0, -0, -1, 1, 1.5, -1.5, 0.1, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 53, -(2 ** 53), 1e21, 1e308, -1e308,
  '', ' ', '0', '-1', '1e3', 'NaN', 'true', 'null', '0-0', '0-1', '-', '+', '*', '$', '(', '(0-0', '18446744073709551616-0',
  '9999999999999999999-9999999999999999999', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(2001), 'a:holds', 'a:stock', '{room:x}', '}{',
  'r_1:sale', '../../etc/passwd', '%00', '\u0000', '\u0007', '\u202e', '\u200b', '\u2800', '\ufeff', '\ud800', '😀', 'İ', '\\',
  "'; DROP TABLE x; --", "') return redis.call('FLUSHALL') --", '__proto__', 'constructor', 'prototype', 'hasOwnProperty',
  [], [null], [1, 2, 3], ['x'], [[[]]], {}, { a: 1 }, { __proto__: { polluted: 1 } }, JSON.parse('{"__proto__":{"polluted":1}}'),
  deep(50), Array.from({ length: 300 }, () => 'w'),
];

/** Boundary values for a field, from its zod checks (a bit below, at, a bit above each bound). */
function boundaries(field: z.ZodType): unknown[] {
  const out: unknown[] = [];
  const bag = (field as { _zod?: { bag?: Record<string, unknown> } })._zod?.bag ?? {};
  for (const key of ['minimum', 'maximum', 'minLength', 'maxLength', 'exclusiveMinimum', 'exclusiveMaximum']) {
    const v = bag[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (key.includes('Length')) out.push('z'.repeat(Math.max(0, v - 1)), 'z'.repeat(v), 'z'.repeat(v + 1));
    else out.push(v - 1, v, v + 1, v - 0.5, v + 0.5);
  }
  return out;
}

export interface Mutation {
  label: string;
  payload: unknown;
}

/**
 * About `count` payloads for one event: the deterministic ones first, then random JSON values in
 * fields and as whole payloads until the count is reached.
 */
export function mutationsOf(schema: z.ZodType, base: Record<string, unknown>, count: number, seed: number): Mutation[] {
  const shape = objectShape(schema) ?? {};
  const fields = [...new Set([...Object.keys(shape), ...Object.keys(base)])];
  const out: Mutation[] = [{ label: 'base', payload: base }];
  const put = (label: string, payload: unknown) => out.push({ label, payload });

  for (const v of HOSTILE_VALUES) put('whole payload', v);
  put('extra field', { ...base, isAdmin: true });
  put('no payload', undefined);
  for (const key of fields) {
    const { [key]: _drop, ...rest } = base;
    put(`drop ${key}`, rest);
    const field = shape[key];
    const values = [...HOSTILE_VALUES, ...(field ? boundaries(field) : [])];
    for (const v of values) put(`${key}=${short(v)}`, { ...base, [key]: v });
    const current = base[key];
    if (Array.isArray(current) && current.length) {
      for (const v of HOSTILE_VALUES) put(`${key}[]+=${short(v)}`, { ...base, [key]: [...current, v] });
    }
  }
  const random = Math.max(0, count - out.length);
  const values = fc.sample(fc.jsonValue({ maxDepth: 3 }), { seed, numRuns: random });
  values.forEach((v, i) => {
    const key = fields.length && i % 4 !== 0 ? fields[i % fields.length]! : null;
    put(key ? `${key}=random` : 'random payload', key ? { ...base, [key]: v } : v);
  });
  return out;
}

const short = (v: unknown) => {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 24 ? `${s.slice(0, 24)}…` : s;
};
