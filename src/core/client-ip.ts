/**
 * The client's IP for per-IP limits. Behind `hops` trusted reverse proxies each appends the
 * address it saw to X-Forwarded-For, so the client is `hops` entries from the right (anything
 * further left is whatever the client wrote, and spoofable). With no proxy: the socket's peer.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, hops: number): string {
  const peerIp = normalise(peer ?? '');
  if (hops <= 0 || !forwardedFor) return peerIp || 'unknown';
  const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((s) => normalise(s.trim()))
    .filter(Boolean);
  // chain + peer: the peer is the last proxy; the client is `hops` addresses before it.
  const all = [...chain, peerIp];
  return all[all.length - 1 - hops] ?? all[0] ?? 'unknown';
}

/** `::ffff:1.2.3.4` (IPv4 on a dual-stack socket) is 1.2.3.4; bounded so keys stay small. */
function normalise(ip: string): string {
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1').slice(0, 64);
}
