/**
 * The socket boundary's fast path (src/core/fast-parse.ts) against zod itself: for every client
 * event whose schema compiles, generated payloads — valid ones built from the schema's own
 * bounds and patterns, near misses, and junk — must either get no answer from the fast parser or
 * exactly zod's parsed value. And the hot events must compile, or the fast path silently is gone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { compileFastParser, compileFastParsers } from '../src/core/fast-parse.js';
import { clientEventSchemas } from '../src/protocol/index.js';

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  checks?: { _zod: { def: { check: string; pattern?: RegExp; minimum?: number; maximum?: number; value?: number } } }[];
};
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Values a field of this schema may plausibly get: valid ones, the edges of each bound, junk. */
function valuesFor(schema: z.ZodType): fc.Arbitrary<unknown> {
  let def = defOf(schema);
  if (def.innerType) def = defOf(def.innerType);
  const near: fc.Arbitrary<unknown>[] = [fc.constant(null), fc.constant(undefined), fc.boolean(), fc.string({ maxLength: 5 }), fc.integer(), fc.double()];
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  if (def.type === 'string') {
    const min = checks.find((c) => c.check === 'min_length')?.minimum ?? 0;
    const max = checks.find((c) => c.check === 'max_length')?.maximum ?? 80;
    const pattern = checks.find((c) => c.check === 'string_format')?.pattern;
    // Matching the pattern, stretched (repeated) or cut into the length bounds: valid, as a rule.
    const fit = (s: string) => (s.length === 0 ? s : s.repeat(Math.ceil(min / s.length) || 1).slice(0, max));
    const valid = pattern ? fc.stringMatching(pattern).map(fit) : fc.string({ minLength: min, maxLength: max });
    near.push(valid, valid, valid, valid, valid, valid, fc.string({ minLength: Math.max(0, min - 1), maxLength: max + 1 }));
    if (pattern) near.push(fc.stringMatching(pattern).map((s) => `${s} `), fc.constant('s_'.padEnd(max + 1, 'a')));
  }
  if (def.type === 'number') {
    const lo = checks.find((c) => c.check === 'greater_than')?.value ?? -1000;
    const hi = checks.find((c) => c.check === 'less_than')?.value ?? 1000;
    near.push(
      fc.integer({ min: lo, max: hi }),
      fc.integer({ min: lo, max: hi }),
      fc.constantFrom(lo - 1, lo, hi, hi + 1, lo + 0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2),
    );
  }
  return fc.oneof(...near);
}

/** Objects with a subset of the schema's keys (valid-looking values mostly), now and then an extra key. */
function payloadsFor(schema: z.ZodType): fc.Arbitrary<unknown> {
  const shape = defOf(schema).shape ?? {};
  const fields = Object.fromEntries(Object.entries(shape).map(([key, s]) => [key, valuesFor(s)]));
  const objects = fc.oneof(fc.record(fields), fc.record(fields, { requiredKeys: [] }));
  const extra = fc.tuple(objects, fc.constantFrom('extra', '__proto__', 'constructor', 'toString'), fc.anything()).map(([o, k, v]) => {
    const copy: Record<string, unknown> = { ...o };
    Object.defineProperty(copy, k, { value: v, enumerable: true, configurable: true, writable: true });
    return copy;
  });
  // Sent as JSON, as Socket.IO delivers them: undefined members vanish, -0 becomes 0.
  const viaJson = (v: unknown) => (v === undefined ? undefined : (JSON.parse(JSON.stringify(v) ?? 'null') as unknown));
  return fc.oneof({ weight: 6, arbitrary: objects }, { weight: 1, arbitrary: extra }, { weight: 1, arbitrary: fc.anything() }).chain((p) =>
    fc.constantFrom(p, viaJson(p)),
  );
}

const parsers = compileFastParsers(clientEventSchemas);

describe('fast parsers at the socket boundary', () => {
  it('exist for the rush events and the other simple ones', () => {
    for (const event of ['sale:reserve', 'sale:checkout', 'sale:release', 'sale:stop', 'sale:restock'] as const) {
      expect(parsers[event], event).toBeTypeOf('function');
    }
    // Anything refined or transformed is left to zod.
    expect(parsers['sale:start']).toBeUndefined();
  });

  for (const [event, parse] of Object.entries(parsers)) {
    it(`${event}: either no answer or exactly zod's`, () => {
      const schema = clientEventSchemas[event as keyof typeof clientEventSchemas] as z.ZodType;
      let answered = 0;
      fc.assert(
        fc.property(payloadsFor(schema), (payload) => {
          const fast = parse!(payload);
          if (fast === undefined) return;
          answered++;
          const slow = schema.safeParse(payload);
          expect(slow.success, JSON.stringify(payload)).toBe(true);
          expect(fast).toStrictEqual(slow.data);
        }),
        { numRuns: 6000 },
      );
      // The generator reaches the fast path: the property above is not vacuous.
      // (auction:bid gets ~28 answers in 6,000 runs: its valid space is sparse; 10 is far from 0 and from chance.)
      expect(answered).toBeGreaterThan(10);
    });
  }

  it('takes a tap exactly as zod would, default included, and leaves bad ones to zod', () => {
    const reserve = parsers['sale:reserve']!;
    const tap = { saleId: 's_abc-DEF_1', requestId: '9b2f0c1e-7d1a-4a51-9f1e-0f2f1a3b4c5d' };
    expect(reserve(tap)).toStrictEqual({ ...tap, qty: 1 });
    expect(reserve({ ...tap, qty: 3 })).toStrictEqual({ ...tap, qty: 3 });
    for (const bad of [{ ...tap, qty: 0 }, { ...tap, qty: 1.5 }, { ...tap, extra: 1 }, { ...tap, saleId: 's_x:holds' }, { saleId: tap.saleId }, [tap], null, 'tap']) {
      expect(reserve(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('is not compiled for shapes it does not understand', async () => {
    const { z } = await import('zod');
    expect(compileFastParser(z.object({ a: z.string().trim() }))).toBeNull();
    expect(compileFastParser(z.object({ a: z.string().email() }))).toBeNull();
    expect(compileFastParser(z.object({ a: z.object({ b: z.string() }) }))).toBeNull();
    expect(compileFastParser(z.object({ a: z.coerce.number() }))).toBeNull();
    expect(compileFastParser(z.object({ a: z.string() }).passthrough())).toBeNull();
    expect(compileFastParser(z.object({ a: z.number() }).refine((v) => v.a > 0))).toBeNull();
    expect(compileFastParser(z.string())).toBeNull();
  });
});
