/** Redis Stream entries come back as flat [field, value, ...] arrays; this makes them records. */
export function streamFields(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
