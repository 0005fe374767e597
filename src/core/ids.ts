import { randomBytes } from 'node:crypto';

/** Short, URL-safe, unguessable ids (96 bits). */
export const newId = (prefix = ''): string => prefix + randomBytes(12).toString('base64url');
