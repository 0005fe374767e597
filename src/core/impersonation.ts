/**
 * Names that pass for staff. A viewer named "Ηυgο" (Greek letters) in Hugo's room, or "HUGO ",
 * or "Moderator Ann", reads as staff in chat; such names may not speak there. Compared on
 * skeletons (src/protocol/text.ts): folded, without spaces and punctuation. Pure, like roles.ts.
 */
import { nameSkeleton, type Room, type UserRef } from '../protocol/index.js';

const STAFF_WORDS = ['moderator', 'admin', 'official'];

/** Why this user's name imitates the room's staff, or null. Staff themselves never imitate. */
export function imitationOf(room: Room, user: UserRef): string | null {
  if (user.id === room.hostId || room.moderatorIds.includes(user.id)) return null;
  const mine = nameSkeleton(user.name);
  const host = nameSkeleton(room.hostName);
  if (host.length > 0 && mine === host) return "the host's name";
  const word = STAFF_WORDS.find((w) => mine.includes(w));
  return word ? `a staff title ("${word}")` : null;
}
