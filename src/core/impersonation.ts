/**
 * Names that pass for staff. A viewer named "Ηυgο" (Greek letters) in Hugo's room, or "HUGO ",
 * or "Moderator Ann", reads as staff in chat; such names may not speak there. Compared on
 * skeletons (src/protocol/text.ts): folded, without spaces and punctuation, I/l/1 and 0/o alike
 * ("AIice" is "Alice"). Pure, like roles.ts.
 *
 * Only the host's name is protected by name: the room record keeps it, but moderators are
 * appointed by user id and their display names live only in their own tokens — the server does
 * not know them until they connect, and keeps no record of them. The staff titles cover the rest.
 */
import { nameSkeleton, type Room, type UserRef } from '../protocol/index.js';

const STAFF_WORDS = ['moderator', 'admin', 'official'];
// Compared skeleton to skeleton: the skeleton of "admin" is "admln".
const STAFF_SKELETONS = STAFF_WORDS.map((word) => ({ word, skeleton: nameSkeleton(word) }));

/** Why this user's name imitates the room's staff, or null. Staff themselves never imitate. */
export function imitationOf(room: Room, user: UserRef): string | null {
  if (user.id === room.hostId || room.moderatorIds.includes(user.id)) return null;
  const mine = nameSkeleton(user.name);
  const host = nameSkeleton(room.hostName);
  if (host.length > 0 && mine === host) return "the host's name";
  const title = STAFF_SKELETONS.find((t) => mine.includes(t.skeleton));
  return title ? `a staff title ("${title.word}")` : null;
}
