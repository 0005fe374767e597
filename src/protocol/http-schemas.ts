/** Request bodies and query strings of the HTTP API, validated at the route boundary. */
import { z } from 'zod';
import { idSchema } from './live-events.js';
import { normaliseDisplayName, normaliseText } from './text.js';

const currency = z.string().trim().toUpperCase().regex(/^[A-Z]{3}$/, 'ISO 4217 code like USD');
// Only http(s): the URL ends up in an <img src> on every viewer's screen.
const imageUrl = z.string().trim().max(2000).url().refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL');
const buyNowStock = z.number().int().min(0).max(1_000_000).nullable();
const buyNowLimit = z.number().int().min(1).max(100);
const optionalText = (max: number) => z.string().trim().max(max).nullable().optional();

/** How far ahead a room may be scheduled. */
export const SCHEDULE_MAX_AHEAD_MS = 90 * 24 * 3600 * 1000;

export const createRoomBody = z
  .object({
    title: z.string().max(480).transform(normaliseText).pipe(z.string().min(1, 'title is empty').max(120)),
    description: z.string().trim().max(2000).default(''),
    hostKind: z.enum(['buyer', 'manager']).default('manager'),
    isPublic: z.boolean().default(true),
    // Bounded: a room scheduled years ahead would hold one of the host's ROOMS_PER_USER places
    // and a "scheduled" listing entry that long.
    scheduledStart: z
      .number()
      .int()
      .positive()
      .refine((t) => t <= Date.now() + SCHEDULE_MAX_AHEAD_MS, 'scheduledStart more than 90 days ahead')
      .nullable()
      .default(null),
  })
  .strict();

export const listRoomsQuery = z
  .object({
    status: z.enum(['live', 'scheduled', 'all']).default('all'),
    sort: z.enum(['trending', 'viewers', 'recent', 'scheduled']).default('trending'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

export const productBody = z
  .object({
    id: idSchema.optional(),
    title: z.string().trim().min(1).max(200),
    imageUrl: imageUrl.nullable().default(null),
    price: z.number().int().min(0).max(1_000_000_000),
    currency,
    merchant: optionalText(120).transform((v) => v ?? null),
    brand: optionalText(120).transform((v) => v ?? null),
    /** Buy-now units (absent or null: not for sale outside flash sales). */
    stock: buyNowStock.optional(),
    perUserLimit: buyNowLimit.optional(),
  })
  .strict();

export const productPatchBody = z
  .object({
    title: z.string().trim().min(1).max(200),
    imageUrl: imageUrl.nullable(),
    price: z.number().int().min(0).max(1_000_000_000),
    currency,
    merchant: z.string().trim().max(120).nullable(),
    brand: z.string().trim().max(120).nullable(),
    /** Sets the units available to buy now (held units stay held); null: no longer for sale. */
    stock: buyNowStock,
    perUserLimit: buyNowLimit,
  })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to update');

export const devTokenBody = z
  .object({
    userId: idSchema.optional(),
    name: z.string().max(200).transform((n) => normaliseDisplayName(n)).pipe(z.string().min(1, 'name is empty after removing invisible characters')),
  })
  .strict();

export const roomIdParams = z.object({ roomId: idSchema });
export const roomUserParams = z.object({ roomId: idSchema, userId: idSchema });
export const roomProductParams = z.object({ roomId: idSchema, productId: idSchema });
