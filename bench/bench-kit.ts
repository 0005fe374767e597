/** Small pieces every benchmark driver needs: a quantile of sorted samples and the host's setup calls. */

/** The q-quantile (nearest rank) of ascending samples; NaN when there are none. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** POST a JSON body with a bearer token (room creation, going live); throws on a non-2xx answer. */
export async function postJson(url: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
