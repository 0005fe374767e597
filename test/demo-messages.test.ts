/**
 * The demo pages' words for errors (client-demo/src/messages.ts): every protocol error code has a
 * short sentence of its own, never the server's developer text, with local times and countdowns
 * where the error carries them.
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/protocol/index.js';
import { errorKind, humanError } from '../client-demo/src/messages.js';

describe('error sentences', () => {
  it('every code reads as a short sentence, not the server message', () => {
    for (const code of ERROR_CODES) {
      const text = humanError({ code, message: 'join a room first (server text)' });
      expect(text, code).toMatch(/^[A-Z].{5,90}[.!]$/);
      expect(text, code).not.toContain('server text');
    }
  });

  it('says what the person needs: a local time for a mute, a countdown for slow mode, the word refused', () => {
    const at = new Date(Date.now() + 5 * 60_000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    expect(humanError({ code: 'MUTED', message: 'you are muted until 2026-11-30T08:11:54.370Z', retryAfterMs: 5 * 60_000 })).toBe(`You’re muted until ${at}.`);
    expect(humanError({ code: 'SLOW_MODE', message: 'slow mode: wait 10 s', retryAfterMs: 9_200 })).toBe('Slow mode is on: you can send again in 10 s.');
    expect(humanError({ code: 'BLOCKED_WORD', message: 'message contains a blocked word: "fake"' })).toBe('This room doesn’t allow the word “fake”.');
    expect(humanError({ code: 'NOT_IN_ROOM', message: 'join a room first' })).toBe('This live has ended.');
    expect(humanError({ code: 'BAD_REQUEST', message: 'price: Too small: expected number to be >=0' })).toBe('Please check the price.');
    expect(humanError(new Error('boom'))).toBe('Something went wrong on our side. Please try again.');
    // A giveaway's rule, named from the server's message, with the free route.
    expect(humanError({ code: 'NOT_ELIGIBLE', message: 'this giveaway is for viewers who follow the host; anyone may enter free instead with { free: true } (no purchase necessary)' }))
      .toBe('This giveaway is for followers of the host — you can still enter free: no purchase necessary.');
    expect(humanError({ code: 'NOT_ELIGIBLE', message: 'this giveaway is for viewers who commented in this live; anyone may enter free instead' })).toContain('viewers who commented');
  });

  it('sold out and a live that ended are news, not errors', () => {
    for (const code of ['SOLD_OUT', 'SALE_ENDED', 'ROOM_ENDED', 'NOT_IN_ROOM', 'NOT_ELIGIBLE']) expect(errorKind({ code }), code).toBe('info');
    for (const code of ['INTERNAL', 'FORBIDDEN', 'BLOCKED_WORD']) expect(errorKind({ code }), code).toBe('error');
  });
});
