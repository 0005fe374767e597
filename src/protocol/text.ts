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
 * of combining marks are cut to two per letter, and the ends are trimmed. Every default-ignorable
 * code point goes too (variation selectors U+FE00–FE0F and U+E0100–E01EF, Mongolian FVS, CGJ, …):
 * they render as nothing. An emoji ZWJ sequence (👩‍💻) keeps its joiner, and an emoji its
 * presentation selector (❤️). Text with no letter, number, symbol or punctuation left (only
 * combining marks, private-use characters, …) normalises to '' — which callers refuse as empty.
 *
 * foldForMatch: normaliseText, lowercased, diacritics and dots removed (so dotted İ is i), and
 * Cyrillic, Greek, Armenian, Cherokee and small-capital look-alikes mapped to the Latin letters
 * they imitate.
 */

const INVISIBLE =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u17b4\u17b5\u180e\u2800\u3164\uffa0\u{1d159}\u{1d173}-\u{1d17a}]/gu;
// Private-use placeholders: not default-ignorable, they survive the stripping.
const ZWJ_KEEP = '\u{f0000}';
const VS16_KEEP = '\u{f0001}';
const PLACEHOLDERS = /[\u{f0000}\u{f0001}]/gu;
const EMOJI_ZWJ = /(\p{Extended_Pictographic}\ufe0f?)\u200d(?=\p{Extended_Pictographic})/gu;
// The emoji presentation selector after an emoji or a keycap base (❤️, 1️⃣): it changes how it looks.
const EMOJI_VS16 = /(\p{Extended_Pictographic}|[#*0-9])\ufe0f/gu;
const MARK_STACKS = /(\p{M}{2})\p{M}+/gu;
// Something a reader can see: a letter, number, symbol or punctuation mark.
const VISIBLE = /[\p{L}\p{N}\p{S}\p{P}]/u;

export function normaliseText(input: string): string {
  const out = input
    .normalize('NFKC')
    .replace(PLACEHOLDERS, '') // nobody gets to send the placeholders themselves
    .replace(EMOJI_ZWJ, `$1${ZWJ_KEEP}`)
    .replace(EMOJI_VS16, `$1${VS16_KEEP}`)
    .replace(INVISIBLE, '')
    .replace(/\u{f0000}/gu, '\u200d')
    .replace(/\u{f0001}/gu, '\ufe0f')
    .replace(MARK_STACKS, '$1')
    .replace(/\s+/gu, ' ')
    .trim();
  // Lone combining marks or private-use characters alone read as an empty message or name.
  return VISIBLE.test(out) ? out : '';
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
  // Small capitals (NFKC keeps them): ꜱᴄᴀᴍ
  ᴀ: 'a', ʙ: 'b', ᴅ: 'd', ᴇ: 'e', ꜰ: 'f', ɢ: 'g', ʜ: 'h', ɪ: 'i', ᴊ: 'j', ᴋ: 'k', ʟ: 'l', ᴍ: 'm', ɴ: 'n', ᴘ: 'p',
  ʀ: 'r', ᴛ: 't', ᴜ: 'u', ꞯ: 'q', ʂ: 's', ⱥ: 'a',
  // Greek lunate sigma (ϲ becomes final sigma ς under NFKC) and Greek yot
  ϲ: 'c', Ϲ: 'c', ς: 'c', ϳ: 'j',
  // Armenian
  Տ: 's', Օ: 'o', օ: 'o', ո: 'n', ս: 'u', հ: 'h', զ: 'q', ց: 'g',
};
// Cherokee capitals that look like Latin ones; their small forms (U+AB70…) map alike.
const CHEROKEE: Record<string, string> = {
  Ꭺ: 'a', Ᏼ: 'b', Ꮯ: 'c', Ꭼ: 'e', Ꮐ: 'g', Ꮋ: 'h', Ꭵ: 'i', Ꭻ: 'j', Ꮶ: 'k', Ꮮ: 'l', Ꮇ: 'm', Ꮲ: 'p', Ꮢ: 'r',
  Ꮪ: 's', Ꭲ: 't', Ꮩ: 'v', Ꮃ: 'w', Ꮓ: 'z', Ꮟ: 'b', Ꭰ: 'd',
};
for (const [upper, latin] of Object.entries(CHEROKEE)) {
  CONFUSABLES[upper] = latin;
  const cp = upper.codePointAt(0)!;
  if (cp < 0x13f0) CONFUSABLES[String.fromCodePoint(cp - 0x13a0 + 0xab70)] = latin;
}
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLES).join('')}]`, 'gu');

export function foldForMatch(input: string): string {
  return normaliseText(input)
    .replace(CONFUSABLE_RE, (c) => CONFUSABLES[c] ?? c)
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .normalize('NFC');
}

/**
 * What a name looks like, for "is this the host's name?": folded, without spaces and punctuation,
 * and with the letters a sans-serif font draws alike made one: I, l, 1 and | (so "AIice" is
 * "Alice"), 0 and o, rn and m.
 */
export function nameSkeleton(name: string): string {
  return foldForMatch(name)
    .replace(/[1|]/g, 'l')
    .replace(/i/g, 'l')
    .replace(/0/g, 'o')
    .replace(/rn/g, 'm')
    .replace(/[\s\p{P}\p{S}\u200d]/gu, '');
}
