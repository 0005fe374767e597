/**
 * Configuration from environment variables, parsed by one zod schema at start-up. A bad value
 * stops the server with a message naming the variable.
 */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const configSchema = z.object({
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Unset: start an embedded redis-server (data under REDIS_DATA_DIR). */
  REDIS_URL: z.string().url().optional(),
  REDIS_DATA_DIR: z.string().default('var/redis'),
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters'),
  JWT_ISSUER: z.string().default('live-commerce'),
  /** Development token endpoint: mints tokens for anyone. Never enable in production. */
  DEV_TOKENS: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Serve the built demo pages from this directory at `/` (empty: don't). */
  DEMO_DIR: z.string().default(''),
  CHAT_HISTORY_MAX: z.coerce.number().int().min(50).max(100_000).default(1000),
  CHAT_RATE_PER_10S: z.coerce.number().int().min(1).max(1000).default(10),
  HEART_RATE_PER_SEC: z.coerce.number().int().min(1).max(1000).default(20),
  RECOVERY_WINDOW_MS: z.coerce.number().int().min(0).max(30 * 60_000).default(2 * 60_000),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Config, string>> = {}): Config {
  const source: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = overrides[key as keyof Config] ?? env[key];
    if (v !== undefined && v !== '') source[key] = v;
  }
  const parsed = configSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
