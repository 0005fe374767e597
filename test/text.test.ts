/**
 * Text people see: the pure normaliser and folder (src/protocol/text.ts), then the same rules
 * through a real server — invisible-only messages refused, blocked words caught through
 * zero-width, full-width, soft-hyphen, homoglyph and dotted-İ disguises, display names cleaned,
 * and names that imitate the host kept out of its chat. Also config refusing unusable REDIS_URLs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldForMatch, nameSkeleton, normaliseDisplayName, normaliseText } from '../src/protocol/index.js';
import { loadConfig } from '../src/config.js';
import { closeAllSockets, connect, devUser, http, liveRoom, ok, requestRaw } from './helpers/clients.js';
import { startStack, TEST_SECRET, type Stack } from './helpers/stack.js';

describe('normaliseText', () => {
  it.each([
    ['zero-width space', 'he\u200bllo', 'hello'],
    ['soft hyphen', 'sp\u00adam', 'spam'],
    ['RTL override and isolates', '\u202egnp.exe\u202c \u2067x\u2069', 'gnp.exe x'],
    ['NUL and BEL', 'a\u0000b\u0007c', 'abc'],
    ['BOM and word joiner', '\ufeffa\u2060b', 'ab'],
    ['full-width letters (NFKC)', 'ｆｒｅｅ　ｓｔｕｆｆ', 'free stuff'],
    ['ligature (NFKC)', 'ﬁne', 'fine'],
    ['whitespace runs and newlines', '  a \n\t b  ', 'a b'],
    ['combining-mark stacks', 'a\u0301\u0301\u0301\u0301b', '\u00e1\u0301\u0301b'],
    ['emoji ZWJ sequence kept', '👩\u200d💻 ok', '👩\u200d💻 ok'],
    ['tag characters', 'x\u{e0041}\u{e0042}y', 'xy'],
  ])('%s', (_label, input, expected) => {
    expect(normaliseText(input)).toBe(expected);
  });

  it.each([
    ['U+200B', '\u200b\u200b'],
    ['U+2800 braille blank', '\u2800'],
    ['U+3164 hangul filler', '\u3164\u3164'],
    ['U+FFA0 halfwidth filler', '\uffa0'],
    ['mixed invisibles and spaces', ' \u200b\u2800 \u3164\u00ad\u200e\u202e '],
    ['U+FE0F variation selectors', '\ufe0f\ufe0f\ufe0f'],
    ['U+E0100 supplementary variation selectors', '\u{e0100}\u{e0101}'],
    ['lone combining marks', '\u0300\u0301'],
    ['U+180B Mongolian variation selector', '\u180b\u180c'],
    ['U+E000 private use', '\ue000\ue001'],
    ['U+034F combining grapheme joiner', '\u034f'],
  ])('only invisible characters (%s) normalise to empty', (_label, input) => {
    expect(normaliseText(input)).toBe('');
  });

  it('variation selectors go, except an emoji presentation selector; private use among letters stays', () => {
    expect(normaliseText('A\ufe0fn\u{e0100}n')).toBe('Ann');
    expect(normaliseText('I \u2764\ufe0f it')).toBe('I \u2764\ufe0f it');
    expect(normaliseText('a\ue000b')).toBe('a\ue000b');
    expect(normaliseDisplayName('\ufe0f')).toBe('');
  });

  it('display names are cut to 40 characters without splitting a pair', () => {
    expect(Array.from(normaliseDisplayName(`${'x'.repeat(39)}😀😀`))).toHaveLength(40);
    expect(normaliseDisplayName('\u202eHugo\u0000')).toBe('Hugo');
  });
});

describe('foldForMatch', () => {
  it.each([
    ['ｓｐａｍ', 'spam'],
    ['s\u200bp\u00ada\u2060m', 'spam'],
    ['SPAM', 'spam'],
    ['ѕрам', 'spam'], // Cyrillic ѕ р а м
    ['ЅРАМ', 'spam'],
    ['ѕpαm', 'spam'], // Greek α
    ['İDİOT', 'idiot'],
    ['ıdiot', 'idiot'], // dotless ı
    ['spàm', 'spam'],
    ['ꜱᴄᴀᴍ', 'scam'], // small capitals
    ['ꮪcam', 'scam'], // Cherokee small letter
    ['ᏚᏟᎪᎷ', 'scam'], // Cherokee capitals
    ['ѕϲаm', 'scam'], // Greek lunate sigma ϲ
    ['ՏCAM', 'scam'], // Armenian Տ
  ])('%s folds to %s', (input, expected) => {
    expect(foldForMatch(input)).toBe(expected);
  });

  it('name skeletons ignore case, spacing, punctuation and look-alikes', () => {
    expect(nameSkeleton('Hugo')).toBe(nameSkeleton(' h.u g-o '));
    expect(nameSkeleton('Hugo')).toBe(nameSkeleton('Ηυgο')); // Greek Η υ ο
    expect(nameSkeleton('Hugo')).not.toBe(nameSkeleton('Hugh'));
    expect(nameSkeleton('Alice')).toBe(nameSkeleton('AIice')); // capital I
    expect(nameSkeleton('Alice')).toBe(nameSkeleton('A1ice'));
    expect(nameSkeleton('Bob')).toBe(nameSkeleton('B0b'));
    expect(nameSkeleton('Alice')).not.toBe(nameSkeleton('Alan'));
  });
});

describe('REDIS_URL config', () => {
  it.each(['redis:///path.sock', 'unix:///tmp/redis.sock', 'http://example.com', 'redis://host/notadb', 'redis://host:0', 'not a url'])(
    '%s is refused with a clear config error',
    (url) => {
      expect(() => loadConfig({}, { JWT_SECRET: TEST_SECRET, REDIS_URL: url })).toThrow(/REDIS_URL: want redis:\/\//);
    },
  );
  it.each(['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2', 'redis://:pw@localhost'])('%s is accepted', (url) => {
    expect(loadConfig({}, { JWT_SECRET: TEST_SECRET, REDIS_URL: url }).REDIS_URL).toBe(url);
  });
});

describe('through the server', () => {
  let stack: Stack;
  let roomId: string;
  let host: Awaited<ReturnType<typeof devUser>>;

  beforeAll(async () => {
    stack = await startStack();
    const live = await liveRoom(stack.url, 'Hugo');
    roomId = live.roomId;
    host = live.host;
  });
  afterAll(async () => {
    closeAllSockets();
    await stack?.stop();
  });

  const joined = async (name: string) => {
    const s = await connect(stack.url, await devUser(stack.url, name));
    await ok(s, 'room:join', { roomId });
    return s;
  };

  it('a message of only invisible characters is BAD_REQUEST; a disguised one is stored clean', async () => {
    const s = await joined('Inês');
    for (const text of ['\u200b\u200b', '\u2800', '\u3164', ' \u00ad\u202e ', '\ufe0f\ufe0f', '\u{e0100}', '\u0300\u0301', '\u180b', '\ue000']) {
      expect(await requestRaw(s, 'chat:send', { text }), JSON.stringify(text)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/empty/) } });
    }
    const sent = await ok(s, 'chat:send', { text: '\u202eｈｉ\u200b there\u0007' });
    expect(sent.text).toBe('hi there');
  });

  it('blocked words are caught through zero-width, full-width, soft-hyphen, homoglyph and dotted-İ disguises', async () => {
    const hostSocket = await connect(stack.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    // Set with a Cyrillic о: stored folded, so it matches the Latin word too.
    const settings = await ok(hostSocket, 'mod:blocked-words', { words: ['sc\u0430m', 'İdiot'] });
    expect(settings.blockedWords).toEqual(['scam', 'idiot']);
    const s = await joined('Mallory');
    for (const text of ['a scam!', 'sc\u200bam', 'ｓｃａｍ', 'sc\u00adam', 'ѕсаm', 'SCAM', 'you İDİOT', 'you ıdiot', 'sçam', 'ꜱᴄᴀᴍ', 'ꮪcam', 'ѕϲаm', 's\ufe0fcam']) {
      expect(await requestRaw(s, 'chat:send', { text }), text).toMatchObject({ ok: false, error: { code: 'BLOCKED_WORD' } });
    }
    expect(await requestRaw(s, 'chat:send', { text: 'a fine scarf' })).toMatchObject({ ok: true });
  });

  it('display names are normalised at the token endpoint; an invisible-only name is refused', async () => {
    const res = await http(stack.url, 'POST', '/api/dev/token', null, { name: '\u202eAnn\u0000\u200b ' });
    expect(res.status).toBe(201);
    expect(res.body.user.name).toBe('Ann');
    for (const name of ['\u2800\u3164\u200b', '\ufe0f', '\u0301\u0300', '\ue000']) {
      const empty = await http(stack.url, 'POST', '/api/dev/token', null, { name });
      expect(empty.status, JSON.stringify(name)).toBe(400);
      expect(empty.body.error.code).toBe('BAD_REQUEST');
    }
  });

  it("a viewer whose name imitates the host or a staff title may not chat; the host may", async () => {
    for (const name of ['Ηυgο', 'HUGO', 'h u g o', 'HUG0', 'Moderator Ann', 'admin', 'AdmIn', 'Officia1']) {
      const s = await joined(name);
      expect(await requestRaw(s, 'chat:send', { text: 'hello' }), name).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringMatching(/display name/) } });
    }
    const hostSocket = await connect(stack.url, host);
    await ok(hostSocket, 'room:join', { roomId });
    expect(await requestRaw(hostSocket, 'chat:send', { text: 'welcome' })).toMatchObject({ ok: true });
    expect(await requestRaw(await joined('Hugh'), 'chat:send', { text: 'hi' })).toMatchObject({ ok: true });
  });
});
