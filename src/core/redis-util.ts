import type { RedisClient } from './redis-client.js';
/** Redis Stream entries come back as flat [field, value, ...] arrays; this makes them records. */
export function streamFields(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

/** XGROUP CREATE from the stream's start, creating the stream; an existing group is fine. */
export async function createGroup(redis: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error && err.message.includes('BUSYGROUP'))) throw err;
  }
}
