/**
 * Config overrides for load from one machine. The per-IP limits exist for real crowds, where
 * thousands of clients on one address mean one abuser; in tests and benchmarks every simulated
 * client is 127.0.0.1, so those limits would measure themselves instead of the server.
 */
import type { Config } from '../../src/config.js';

type Overrides = Partial<Record<keyof Config, string>>;

/** Many clients from one address: per-IP caps off. Per-user and per-socket limits stay. */
export const ONE_ADDRESS_CROWD: Overrides = {
  MAX_CONNECTIONS_PER_IP: '0',
  ROOM_JOIN_PER_MIN_IP: '0',
  READS_PER_MIN_IP: '0',
  HTTP_PER_MIN_IP: '0',
  // Not a refusal, a count: every simulated guest would otherwise share one address's few places.
  GUESTS_PER_IP_COUNTED: '10000',
};

/** Every hostile-client limit lifted, for tests that hammer one socket on purpose (fuzzing,
 * races) and would otherwise only ever see RATE_LIMITED. The limits have their own tests. */
export const NO_CLIENT_LIMITS: Overrides = {
  ...ONE_ADDRESS_CROWD,
  SOCKET_EVENTS_PER_SEC: '100000',
  SOCKET_EVENT_BURST: '100000',
  SOCKET_MAX_IN_FLIGHT: '10000',
  ROOM_JOIN_PER_MIN_USER: '0',
  READS_PER_MIN_USER: '0',
  MAX_CONNECTIONS_PER_USER: '0',
  HTTP_PER_MIN_USER: '0',
};
