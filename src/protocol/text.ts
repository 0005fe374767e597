/**
 * Text that people see — display names and chat — normalised at the boundary, and folded for
 * matching (blocked words, names that imitate the host). Pure functions, shared by server, tests
 * and clients.
 *
 * normaliseText: NFKC (full-width letters, ligatures, compatibility forms become plain ones), then
 * invisible characters are removed — controls (NUL, BEL, …), format characters (zero-width
 * spaces and joiners, soft hyphen, bidi embeddings, overrides and isolates, BOM, tags), line and
 * paragraph separators, and the blank-looking letters people use to fake an empty message (U+2800
 * braille blank, U+3164 and U+FFA0 hangul fillers, …) — whitespace runs become one space, stacks
 * of combining marks are cut to two per letter, and the ends are trimmed. An emoji ZWJ sequence
 * (👩‍💻) keeps its joiner.
 *
 * foldForMatch: normaliseText, lowercased, diacritics and dots removed (so dotted İ is i), and
 * Cyrillic and Greek look-alikes mapped to the Latin letters they imitate.
 */

const INVISIBLE =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0\u{1d159}\u{1d173}-\u{1d17a}]/gu;
const EMOJI_ZWJ = /(\p{Extended_Pictographic}\ufe0f?)\u200d(?=\p{Extended_Pictographic})/gu;
const ZWJ_KEEP = '\u{f0000}'; // a private-use placeholder: not Cf, survives the stripping
const MARK_STACKS = /(\p{M}{2})\p{M}+/gu;

export function normaliseText(input: string): string {
  return input
    .normalize('NFKC')
    .replace(/\u{f0000}/gu, '') // nobody gets to send the placeholder itself
    .replace(EMOJI_ZWJ, `$1${ZWJ_KEEP}`)
    .replace(INVISIBLE, '')
    .replace(/\u{f0000}/gu, '\u200d')
    .replace(MARK_STACKS, '$1')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** Display names: normalised, at most `max` characters (code points, never half a pair). */
export function normaliseDisplayName(input: string, max = 40): string {
  return Array.from(normaliseText(input)).slice(0, max).join('').trim();
}

// Cyrillic and Greek letters that look like Latin ones (both cases; lowercasing follows).
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', з: '3', і: 'i', ї: 'i', ј: 'j', к: 'k', м: 'm', н: 'h', о: 'o', п: 'n', р: 'p', с: 'c',
  т: 't', у: 'y', х: 'x', ѕ: 's', ԁ: 'd', һ: 'h', ӏ: 'l', ԛ: 'q', ԝ: 'w', ь: 'b', г: 'r',
  А: 'a', В: 'b', Е: 'e', Ё: 'e', І: 'i', Ї: 'i', Ј: 'j', К: 'k', М: 'm', Н: 'h', О: 'o', Р: 'p', С: 'c', Т: 't',
  У: 'y', Х: 'x', Ѕ: 's', Ԁ: 'd', Һ: 'h', Ӏ: 'l', Ԛ: 'q', Ԝ: 'w',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w', γ: 'y',
  Α: 'a', Β: 'b', Ε: 'e', Ζ: 'z', Η: 'h', Ι: 'i', Κ: 'k', Μ: 'm', Ν: 'n', Ο: 'o', Ρ: 'p', Τ: 't', Υ: 'y', Χ: 'x',
  // Latin look-alikes outside ASCII that NFKC keeps
  ı: 'i', ȷ: 'j', ɡ: 'g', ɑ: 'a', ɩ: 'i', ʏ: 'y', ᴄ: 'c', ᴏ: 'o', ᴠ: 'v', ᴡ: 'w', ᴢ: 'z', ꜱ: 's',
};
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'gu');

export function foldForMatch(input: string): string {
  return normaliseText(input)
    .replace(CONFUSABLE_RE, (c) => CONFUSABLES[c] ?? c)
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .normalize('NFC');
}

/** What a name looks like, for "is this the host's name?": folded, without spaces and punctuation. */
export function nameSkeleton(name: string): string {
  return foldForMatch(name).replace(/[\s\p{P}\p{S}\u200d]/gu, '');
}
