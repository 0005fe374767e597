/**
 * Who may enter a giveaway, as pure rules. The facts themselves (followed, commented, bought in
 * this live) are Redis sets of the room read inside the entry script, so a check and the entry are
 * one atomic step; this module names which fact each rule needs and what a refusal says.
 */
import type { GiveawayRule } from '../../protocol/index.js';
import { roomBuyersKey, roomCommentersKey, roomFollowersKey } from '../../core/keys.js';

/** The room set a user must be in to enter by the rule; null: none (everyone signed in). */
export function ruleFactKey(roomId: string, rule: GiveawayRule): string | null {
  switch (rule) {
    case 'everyone':
      return null;
    case 'followers':
      return roomFollowersKey(roomId);
    case 'commenters':
      return roomCommentersKey(roomId);
    case 'buyers':
      return roomBuyersKey(roomId);
  }
}

/** The NOT_ELIGIBLE message: what to do to qualify, and the free route. */
export function notEligibleMessage(rule: Exclude<GiveawayRule, 'everyone'>): string {
  const need = { followers: 'follow the host', commenters: 'commented in this live', buyers: 'bought in this live' }[rule];
  const who = rule === 'followers' ? 'viewers who follow the host' : `viewers who ${need}`;
  return `this giveaway is for ${who}; anyone may enter free instead with { free: true } (no purchase necessary)`;
}
