/**
 * The student's side of a class, without a DOM: what the browser remembers (the token to resume
 * with, in localStorage under `STUDENT_TOKEN_KEY`; the name, class and live tag to show and tag
 * /echo with, under `CLASS_SESSION_KEY`), and the state of the join page as messages arrive.
 *
 * The token proves who the student is to the server, so it is kept apart from the display data
 * and never shown; the display data is harmless if read by another lab on the same origin.
 */
import { CLASS_SESSION_KEY } from '../shared/class-tag.ts';
import type { ChapterStates, JoinedMessage, ToStudentMessage } from './protocol.ts';
import {
  isJoinCode,
  JOIN_CODE_ALPHABET,
  JOIN_CODE_LENGTH,
  normaliseJoinCode,
  STUDENT_TOKEN_KEY,
  validateDisplayName,
} from './protocol.ts';

export interface ClassSession {
  readonly studentId: string;
  readonly name: string;
  readonly className: string;
  readonly liveTag: string;
}

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function storedToken(storage: KeyValueStorage): string | null {
  const token = storage.getItem(STUDENT_TOKEN_KEY);
  return token !== null && TOKEN.test(token) ? token : null;
}

/** The display data, or null when missing or not what this file wrote. */
export function storedSession(storage: KeyValueStorage): ClassSession | null {
  const text = storage.getItem(CLASS_SESSION_KEY);
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Record<string, unknown> | null;
    if (value === null || typeof value !== 'object') return null;
    const { studentId, name, className, liveTag } = value;
    if (
      typeof studentId !== 'string' ||
      typeof name !== 'string' ||
      typeof className !== 'string' ||
      typeof liveTag !== 'string'
    ) {
      return null;
    }
    return { studentId, name, className, liveTag };
  } catch {
    return null;
  }
}

export function sessionOf(joined: JoinedMessage): ClassSession {
  return {
    studentId: joined.student.id,
    name: joined.student.name,
    className: joined.className,
    liveTag: joined.liveTag,
  };
}

export function rememberJoined(storage: KeyValueStorage, joined: JoinedMessage): void {
  storage.setItem(STUDENT_TOKEN_KEY, joined.token);
  storage.setItem(CLASS_SESSION_KEY, JSON.stringify(sessionOf(joined)));
}

export function forgetClass(storage: KeyValueStorage): void {
  storage.removeItem(STUDENT_TOKEN_KEY);
  storage.removeItem(CLASS_SESSION_KEY);
}

/** The code in a join link's fragment (`#code=K7QX2M`), read as generously as a typed one. */
export function codeFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const code = params.get('code');
  if (code === null) return null;
  const normal = normaliseJoinCode(code);
  return normal === '' ? null : normal.slice(0, 32);
}

/**
 * Why the form cannot be sent as it is, field by field (the server checks again and has the
 * last word). Null when both look right.
 */
export function joinFormProblems(
  code: string,
  name: string,
): { readonly code?: string; readonly name?: string } | null {
  const problems: { code?: string; name?: string } = {};
  const normal = normaliseJoinCode(code);
  if (normal === '') problems.code = 'Type the join code your teacher shows.';
  else if (normal.length !== JOIN_CODE_LENGTH) {
    problems.code = `A join code has ${JOIN_CODE_LENGTH} characters; this one has ${normal.length}.`;
  } else if (!isJoinCode(normal)) {
    const bad = [...normal].find((char) => !JOIN_CODE_ALPHABET.includes(char)) ?? '';
    problems.code = `A join code never contains "${bad}": codes leave out 0, O, 1, I and L so they cannot be misread.${/[0O]/.test(bad) ? ' Perhaps it is a Q or D?' : ''}`;
  }
  const checked = validateDisplayName(name);
  if (!checked.ok) problems.name = checked.reason;
  return problems.code === undefined && problems.name === undefined ? null : problems;
}

// ---- the join page's state ----------------------------------------------------------------

export type StudentPhase =
  /** Asking /lab.json whether the lab server runs a class. */
  | { readonly phase: 'checking' }
  /** The lab server is not running (or not reachable from this page). */
  | { readonly phase: 'unreachable' }
  /** The lab server runs, but not in classroom mode. */
  | { readonly phase: 'off' }
  | { readonly phase: 'connecting' }
  /** Resuming with the saved token. */
  | { readonly phase: 'resuming' }
  /** Ready to join; `refused` holds the server's reason for the last attempt. */
  | { readonly phase: 'form'; readonly refused?: string }
  | { readonly phase: 'joining' }
  | {
      readonly phase: 'joined';
      readonly session: ClassSession;
      readonly chapters: ChapterStates;
    }
  /** The connection closed; the page tries again. */
  | { readonly phase: 'lost'; readonly reason: string };

export type StudentEvent =
  | { readonly type: 'lab-info'; readonly classroom: boolean }
  | { readonly type: 'unreachable' }
  | { readonly type: 'socket-open'; readonly token: string | null }
  | { readonly type: 'join-sent' }
  | { readonly type: 'socket-closed'; readonly reason: string }
  | { readonly type: 'message'; readonly message: ToStudentMessage };

export function studentReducer(state: StudentPhase, event: StudentEvent): StudentPhase {
  switch (event.type) {
    case 'lab-info':
      return event.classroom ? { phase: 'connecting' } : { phase: 'off' };
    case 'unreachable':
      return { phase: 'unreachable' };
    case 'socket-open':
      return event.token === null ? { phase: 'form' } : { phase: 'resuming' };
    case 'join-sent':
      return { phase: 'joining' };
    case 'socket-closed':
      return state.phase === 'off' || state.phase === 'unreachable'
        ? state
        : { phase: 'lost', reason: event.reason };
    case 'message': {
      const message = event.message;
      if (message.type === 'joined') {
        return { phase: 'joined', session: sessionOf(message), chapters: message.chapters };
      }
      if (message.type === 'refused') {
        // A refused resume (a new class, a token from elsewhere) falls back to the form.
        return {
          phase: 'form',
          refused:
            state.phase === 'resuming'
              ? `Your saved place in a class was not accepted: ${message.reason} Join again below.`
              : message.reason,
        };
      }
      if (message.type === 'chapters' && state.phase === 'joined') {
        return { ...state, chapters: message.chapters };
      }
      if (message.type === 'error' && state.phase === 'joining') {
        return { phase: 'form', refused: message.reason };
      }
      return state;
    }
  }
}

/** Parses one message from /classroom; null for anything that is not an object with a type. */
export function parseServerMessage(data: unknown): ToStudentMessage | null {
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data) as { type?: unknown } | null;
    return value !== null && typeof value === 'object' && typeof value.type === 'string'
      ? (value as ToStudentMessage)
      : null;
  } catch {
    return null;
  }
}
