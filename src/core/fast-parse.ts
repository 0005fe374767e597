/**
 * A precompiled fast path in front of zod at the socket boundary. zod stays the one definition of
 * every payload (src/protocol) and the one that answers anything doubtful; this only compiles the
 * simple shapes hot events use — a strict object of strings with length bounds and regexes,
 * integers with bounds, booleans, defaults and optionals — into plain checks, because a rush sends
 * thousands of identical, valid payloads a second and zod's general machinery (result objects,
 * issue lists, a copy of every object) was a sizeable share of each tap's CPU.
 *
 * The contract, checked by test/fast-parse.test.ts against zod itself over generated payloads:
 * a fast parser either returns exactly what zod's parse would (same values, same keys) or
 * `undefined`, meaning "ask zod". It never refuses anything, so error messages stay zod's.
 * Schemas with anything else (refinements, transforms, coercion, unions, nested objects) get no
 * fast parser at all.
 */
import type { z } from 'zod';

/** The parsed payload, or undefined when zod must decide (invalid or not simple). */
export type FastParser = (input: unknown) => unknown;

type Check = (value: unknown) => boolean;

interface Field {
  key: string;
  check: Check;
  /** Present: where the value an absent key takes comes from (zod's default, read on each use
   * as zod does: a function default runs each time, an object default is a fresh copy). */
  fill?: Def;
  optional: boolean;
}

// zod 4 keeps each schema's definition at `_zod.def`; only the parts read here are typed.
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  checks?: { _zod: { def: CheckDef } }[];
  innerType?: z.ZodType;
  defaultValue?: unknown;
  coerce?: boolean;
}
interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  length?: number;
  value?: number;
  inclusive?: boolean;
  when?: unknown;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Checks of a string or number schema as one predicate; null when one of them is not understood. */
function valueChecks(def: Def): Check[] | null {
  const out: Check[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    // Length checks carry zod's own `when` (run only on values that have a length): always
    // true for a string that passed its type check. Any other conditional check is not simple.
    const isLength = d.check === 'min_length' || d.check === 'max_length' || d.check === 'length_equals';
    if (d.when !== undefined && !isLength) return null;
    if (d.check === 'min_length') out.push((v) => (v as string).length >= d.minimum!);
    else if (d.check === 'max_length') out.push((v) => (v as string).length <= d.maximum!);
    else if (d.check === 'length_equals') out.push((v) => (v as string).length === d.length!);
    else if (d.check === 'string_format' && d.format === 'regex' && d.pattern && !d.pattern.global && !d.pattern.sticky) {
      const re = d.pattern;
      out.push((v) => re.test(v as string));
    } else if (d.check === 'number_format' && d.format === 'safeint') out.push((v) => Number.isSafeInteger(v));
    else if (d.check === 'greater_than') out.push(d.inclusive ? (v) => (v as number) >= d.value! : (v) => (v as number) > d.value!);
    else if (d.check === 'less_than') out.push(d.inclusive ? (v) => (v as number) <= d.value! : (v) => (v as number) < d.value!);
    else return null;
  }
  return out;
}

function all(typeCheck: Check, checks: Check[]): Check {
  if (checks.length === 0) return typeCheck;
  return (v) => {
    if (!typeCheck(v)) return false;
    for (const c of checks) if (!c(v)) return false;
    return true;
  };
}

/** A predicate for a leaf schema (string, number, boolean); null when it is not simple. */
function leaf(schema: z.ZodType): Check | null {
  const def = defOf(schema);
  if (def.coerce) return null;
  if (def.type === 'boolean') return (v) => typeof v === 'boolean';
  if (def.type !== 'string' && def.type !== 'number') return null;
  const checks = valueChecks(def);
  if (!checks) return null;
  // zod's number refuses NaN and ±Infinity whatever its checks say.
  return def.type === 'string' ? all((v) => typeof v === 'string', checks) : all((v) => typeof v === 'number' && Number.isFinite(v), checks);
}

function field(key: string, schema: z.ZodType): Field | null {
  const def = defOf(schema);
  if (def.type === 'default' || def.type === 'optional') {
    const inner = def.innerType && leaf(def.innerType);
    if (!inner) return null;
    if (def.type === 'optional') return { key, check: inner, optional: true };
    return { key, check: inner, fill: def, optional: false };
  }
  const check = leaf(schema);
  return check && { key, check, optional: false };
}

/** The fast parser of a schema, or null when the schema is not one of the simple shapes. */
export function compileFastParser(schema: z.ZodType): FastParser | null {
  const def = defOf(schema);
  if (def.type !== 'object' || !def.shape || (def.checks?.length ?? 0) > 0) return null;
  // Strict (catchall never) or strip (no catchall): either way, a payload with only known keys
  // parses to those keys. Unknown keys go to zod (refused, or stripped into a new object).
  if (def.catchall !== undefined && defOf(def.catchall).type !== 'never') return null;
  const fields: Field[] = [];
  const known: Record<string, true> = Object.create(null);
  for (const [key, s] of Object.entries(def.shape)) {
    const f = field(key, s);
    if (!f) return null;
    fields.push(f);
    known[key] = true;
  }
  return (input) => {
    if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return undefined;
    const obj = input as Record<string, unknown>;
    for (const key in obj) if (known[key] !== true) return undefined;
    let filled: Record<string, unknown> | null = null;
    for (const f of fields) {
      const value = obj[f.key];
      if (value === undefined) {
        if (f.key in obj) return undefined; // an explicit undefined: let zod say what it means
        if (f.fill) (filled ??= { ...obj })[f.key] = f.fill.defaultValue;
        else if (!f.optional) return undefined;
      } else if (!f.check(value)) return undefined;
    }
    // Nothing to add: the payload itself is the parsed value (zod would return an equal copy).
    return filled ?? obj;
  };
}

/** Fast parsers for every schema of a map that has one. */
export function compileFastParsers<K extends string>(schemas: Record<K, z.ZodType>): Partial<Record<K, FastParser>> {
  const out: Partial<Record<K, FastParser>> = {};
  for (const key of Object.keys(schemas) as K[]) {
    const parser = compileFastParser(schemas[key]);
    if (parser) out[key] = parser;
  }
  return out;
}
