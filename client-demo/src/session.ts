/**
 * Development sign-in and the HTTP API. The session lives in sessionStorage on purpose: it is per
 * tab, so one person can be the host in one tab and a viewer in another.
 */
import { devTokenBody, type ErrorBody, type UserRef } from '../../src/protocol/index.js';
import type { z } from 'zod';
import { byId, formValues, h } from './dom.js';
import { humanError } from './messages.js';

/** The letter shown in a person's round avatar. */
export const initial = (name: string) => [...name.trim()][0]?.toUpperCase() ?? '?';

export interface Session {
  token: string;
  user: UserRef;
}

const KEY = 'live-commerce:session';

export function currentSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The first problem zod found, phrased for a person. */
export function describeIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid input';
  return issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

/** Validate locally with the server's own schema first, so mistakes show before a round trip. */
export function check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError('BAD_REQUEST', describeIssue(parsed.error), 0);
  return parsed.data;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const token = currentSession()?.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const error = (parsed as { error?: ErrorBody } | null)?.error;
    throw new ApiError(error?.code ?? 'INTERNAL', error?.message ?? `HTTP ${res.status}`, res.status);
  }
  return parsed as T;
}

export async function signIn(name: string): Promise<Session> {
  const body = check(devTokenBody, { name });
  const session = await api<Session>('POST', '/api/dev/token', body);
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** The same user again with a fresh token (the old one expired); null when signed out. */
export async function renewSession(): Promise<Session | null> {
  const current = currentSession();
  if (!current) return null;
  const body = check(devTokenBody, { name: current.user.name, userId: current.user.id });
  const session = await api<Session>('POST', '/api/dev/token', body);
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/**
 * The sign-in box in the page header (#account). Calls onChange once with the session when one
 * exists or is created; signing out reloads the page, which is simpler than undoing state.
 */
export function mountAccount(onChange: (s: Session) => void, boxId = 'account'): Session | null {
  const box = byId(boxId);
  const render = (session: Session | null) => {
    box.replaceChildren();
    if (session) {
      box.append(
        h('span', { class: 'who' }, h('span', { class: 'avatar', 'aria-hidden': 'true' }, initial(session.user.name)), h('strong', { 'data-testid': 'me' }, session.user.name)),
        h('button', { type: 'button', class: 'link', onclick: () => (signOut(), location.reload()) }, 'Sign out'),
      );
      return;
    }
    const form = h(
      'form',
      { class: 'inline', 'aria-label': 'Sign in' },
      h('label', { for: 'signin-name' }, 'Your name'),
      h('input', { id: 'signin-name', name: 'name', required: true, maxlength: 40, autocomplete: 'nickname' }),
      h('button', { type: 'submit' }, 'Sign in'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const button = form.querySelector('button');
      if (button) button.disabled = true;
      signIn(formValues(form).name ?? '')
        .then((s) => {
          render(s);
          onChange(s);
        })
        .catch((err: Error) => {
          box.querySelector('.form-error')?.remove();
          form.after(h('p', { class: 'form-error', role: 'alert' }, humanError(err)));
        })
        .finally(() => {
          if (button) button.disabled = false;
        });
    });
    box.append(form);
  };
  const session = currentSession();
  render(session);
  if (session) onChange(session);
  return session;
}
