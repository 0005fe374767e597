#!/usr/bin/env node
/**
 * Recomputes a giveaway's draw from its published data and prints PASS or FAIL.
 *
 *   node scripts/verify-giveaway.mjs <server-url> <giveawayId> [userId]
 *   node scripts/verify-giveaway.mjs <file.json> [userId]
 *
 * The data is GET /api/giveaways/:id/entries (the file: that route's JSON body). Checks that
 * sha256(seed) is the commitment published at the start, that the winners are what
 * giveaway-draw-v1 (docs/PROTOCOL.md) picks from the seed and the sorted entry list, and, given a
 * userId, whether that user's entry is in the list. Written on purpose without the server's code
 * (src/commerce/giveaways/giveaway-draw.ts): a second implementation from the documentation.
 * Exit code 0 on PASS, 1 on FAIL, 2 on bad usage.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

async function load(args) {
  if (/^https?:\/\//.test(args[0] ?? '')) {
    const [url, id, userId] = args;
    const res = await fetch(`${url.replace(/\/$/, '')}/api/giveaways/${encodeURIComponent(id)}/entries`);
    if (!res.ok) throw new Error(`GET entries: HTTP ${res.status} ${await res.text()}`);
    return { data: await res.json(), userId };
  }
  const [file, userId] = args;
  return { data: JSON.parse(await readFile(file, 'utf8')), userId };
}

/** giveaway-draw-v1: partial Fisher–Yates over the sorted list, driven by HMAC-SHA256(seed, counter). */
function draw(seedHex, sorted, k) {
  const key = Buffer.from(seedHex, 'hex');
  let counter = 0;
  let block = Buffer.alloc(0);
  let off = 32;
  const next = () => {
    if (off >= block.length) {
      const c = Buffer.alloc(4);
      c.writeUInt32BE(counter++);
      block = createHmac('sha256', key).update(c).digest();
      off = 0;
    }
    const v = block.readUInt32BE(off);
    off += 4;
    return v;
  };
  const pool = sorted.slice();
  const n = pool.length;
  const out = [];
  for (let i = 0; i < Math.min(k, n); i++) {
    const m = n - i;
    const limit = Math.floor(4294967296 / m) * m;
    let r = next();
    while (r >= limit) r = next();
    const j = i + (r % m);
    [pool[i], pool[j]] = [pool[j], pool[i]];
    out.push(pool[i]);
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 1) {
    console.error('usage: verify-giveaway.mjs <server-url> <giveawayId> [userId] | <file.json> [userId]');
    process.exit(2);
  }
  const { data, userId } = await load(args);
  const { giveaway: g, entries, algorithm } = data;
  const problems = [];
  if (algorithm !== 'giveaway-draw-v1') problems.push(`unknown algorithm ${algorithm}`);
  if (g.status !== 'drawn' || !g.seed) {
    console.log(`FAIL not drawn yet (status ${g.status}, entries close at ${new Date(g.endsAt).toISOString()})`);
    process.exit(1);
  }
  const commitment = createHash('sha256').update(Buffer.from(g.seed, 'hex')).digest('hex');
  if (commitment !== g.commitment) problems.push(`sha256(seed) ${commitment} is not the commitment ${g.commitment}`);
  const sorted = entries.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (sorted.some((e, i) => e !== entries[i])) problems.push('the published entry list is not sorted');
  if (new Set(sorted).size !== sorted.length) problems.push('the entry list has duplicates');
  if (g.entries !== sorted.length) problems.push(`giveaway says ${g.entries} entries, the list has ${sorted.length}`);
  const expected = draw(g.seed, sorted, g.winnersWanted);
  const announced = g.winners.map((w) => w.entry);
  if (JSON.stringify(expected) !== JSON.stringify(announced)) {
    problems.push(`winners differ: recomputed ${JSON.stringify(expected)}, announced ${JSON.stringify(announced)}`);
  }
  if (userId) {
    const mine = createHmac('sha256', Buffer.from(g.salt, 'hex')).update(userId, 'utf8').digest('hex');
    const inList = sorted.includes(mine);
    console.log(`user ${userId}: entry ${mine} ${inList ? 'is in the list' : 'is NOT in the list'}${expected.includes(mine) ? ', and won' : ''}`);
  }
  const summary = { giveawayId: g.id, entries: sorted.length, winners: expected.length, commitment: g.commitment };
  if (problems.length) {
    console.log(`FAIL ${JSON.stringify(summary)}`);
    for (const p of problems) console.log(`  - ${p}`);
    process.exit(1);
  }
  console.log(`PASS ${JSON.stringify(summary)}`);
}

main().catch((err) => {
  console.log(`FAIL ${err.message}`);
  process.exit(1);
});
