import { describe, expect, it } from 'vitest';
import { CHAPTERS } from '../exercises/types.ts';
import { CLASS_SESSION_KEY, classLiveTag, withClassTag } from '../shared/class-tag.ts';
import { drawnState } from './exercise-view.ts';
import type { ChapterStates, JoinedMessage } from './protocol.ts';
import { STUDENT_TOKEN_KEY } from './protocol.ts';
import {
  codeFromHash,
  forgetClass,
  joinFormProblems,
  type KeyValueStorage,
  parseServerMessage,
  rememberJoined,
  type StudentPhase,
  storedSession,
  storedToken,
  studentReducer,
} from './student.ts';

const open = Object.fromEntries(CHAPTERS.map((c) => [c, 'open'])) as ChapterStates;

function memory(): KeyValueStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}

const joined: JoinedMessage = {
  type: 'joined',
  student: { id: 'st-1', name: '<img src=x onerror=alert(1)>' },
  token: 'AbC_def-123',
  liveTag: 'tag42',
  className: 'Networks',
  chapters: open,
};

describe('what the browser remembers of its class', () => {
  it('keeps the token apart from the display data, and forgets both on leaving', () => {
    const storage = memory();
    rememberJoined(storage, joined);
    expect(storage.getItem(STUDENT_TOKEN_KEY)).toBe('AbC_def-123');
    expect(storedToken(storage)).toBe('AbC_def-123');
    const session = storedSession(storage);
    expect(session).toEqual({
      studentId: 'st-1',
      name: '<img src=x onerror=alert(1)>',
      className: 'Networks',
      liveTag: 'tag42',
    });
    expect(JSON.stringify(session)).not.toContain('AbC_def');
    forgetClass(storage);
    expect(storage.map.size).toBe(0);
  });

  it('ignores stored data it did not write (a tampered token or session)', () => {
    const storage = memory();
    storage.setItem(STUDENT_TOKEN_KEY, 'not a token!');
    storage.setItem(CLASS_SESSION_KEY, '{"name":3}');
    expect(storedToken(storage)).toBeNull();
    expect(storedSession(storage)).toBeNull();
    storage.setItem(CLASS_SESSION_KEY, 'not json');
    expect(storedSession(storage)).toBeNull();
  });
});

describe('the join form', () => {
  it('prefills the code from a #code= link, read generously', () => {
    expect(codeFromHash('#code=k7qx2m')).toBe('K7QX2M');
    expect(codeFromHash('#code=K7Q-X2M')).toBe('K7QX2M');
    expect(codeFromHash('#other=1')).toBeNull();
    expect(codeFromHash('')).toBeNull();
  });

  it('says which field is wrong and why before asking the server', () => {
    expect(joinFormProblems('K7QX2M', 'Ana')).toBeNull();
    expect(joinFormProblems('', 'Ana')?.code).toMatch(/Type the join code/);
    expect(joinFormProblems('K7QX2', 'Ana')?.code).toMatch(/6 characters; this one has 5/);
    expect(joinFormProblems('K7QX0M', 'Ana')?.code).toMatch(/never contains "0".*Q or D/);
    expect(joinFormProblems('K7QX2M', '   ')?.name).toMatch(/display name/);
    expect(joinFormProblems('K7QX2M', 'a'.repeat(41))?.name).toMatch(/41 characters; at most 40/);
    expect(joinFormProblems('K7QX2M', 'Ana\u202Eevil')?.name).toMatch(/text-direction/);
  });
});

describe('the join page state', () => {
  const step = (state: StudentPhase, ...events: Parameters<typeof studentReducer>[1][]) =>
    events.reduce(studentReducer, state);

  it('tells "classroom mode is off" and "not running" apart', () => {
    expect(step({ phase: 'checking' }, { type: 'lab-info', classroom: false })).toEqual({
      phase: 'off',
    });
    expect(step({ phase: 'checking' }, { type: 'unreachable' })).toEqual({ phase: 'unreachable' });
  });

  it('shows the form without a token, and resumes with one', () => {
    const connecting = step({ phase: 'checking' }, { type: 'lab-info', classroom: true });
    expect(step(connecting, { type: 'socket-open', token: null })).toEqual({ phase: 'form' });
    expect(step(connecting, { type: 'socket-open', token: 't' })).toEqual({ phase: 'resuming' });
  });

  it('joins, then follows the chapters the teacher opens or locks', () => {
    const state = step(
      { phase: 'form' },
      { type: 'join-sent' },
      { type: 'message', message: joined },
      { type: 'message', message: { type: 'chapters', chapters: { ...open, frames: 'locked' } } },
    );
    expect(state.phase).toBe('joined');
    if (state.phase !== 'joined') return;
    expect(state.session.name).toBe('<img src=x onerror=alert(1)>');
    expect(state.chapters.frames).toBe('locked');
  });

  it('shows the server’s reason for a refused join, and explains a refused resume', () => {
    expect(
      step(
        { phase: 'joining' },
        { type: 'message', message: { type: 'refused', reason: 'Wrong join code.' } },
      ),
    ).toEqual({ phase: 'form', refused: 'Wrong join code.' });
    const resumed = step(
      { phase: 'resuming' },
      { type: 'message', message: { type: 'refused', reason: 'Unknown token.' } },
    );
    expect(resumed).toMatchObject({ phase: 'form' });
    expect(resumed.phase === 'form' && resumed.refused).toMatch(/saved place.*Unknown token/);
  });

  it('reports a lost connection, but not while the server is known to be off', () => {
    expect(step({ phase: 'form' }, { type: 'socket-closed', reason: 'closed (1006)' })).toEqual({
      phase: 'lost',
      reason: 'closed (1006)',
    });
    expect(step({ phase: 'off' }, { type: 'socket-closed', reason: 'x' })).toEqual({
      phase: 'off',
    });
  });

  it('parses only JSON objects with a type', () => {
    expect(parseServerMessage('{"type":"pending","req":1}')).toEqual({ type: 'pending', req: 1 });
    expect(parseServerMessage('[1]')).toBeNull();
    expect(parseServerMessage('nope')).toBeNull();
    expect(parseServerMessage(new ArrayBuffer(2))).toBeNull();
  });
});

describe('live tag on /echo', () => {
  it('adds the class tag to /echo and /observe URLs only', () => {
    expect(withClassTag('/echo', 'T1')).toBe('/echo?tag=T1');
    expect(withClassTag('/echo?console=ab', 'T1')).toBe('/echo?console=ab&tag=T1');
    expect(withClassTag('/observe?id=3', 'T1')).toBe('/observe?id=3&tag=T1');
    expect(withClassTag('/raw', 'T1')).toBe('/raw');
    expect(withClassTag('/echo?console=ab', null)).toBe('/echo?console=ab');
  });

  it('finds no tag outside a browser or a class', () => {
    expect(classLiveTag()).toBeNull();
  });
});

describe('an exercise in class', () => {
  it('offers the answer after three wrong tries, and never "new values"', () => {
    const fresh = drawnState({ tries: 0, solved: false, revealed: false }, [], null, false);
    expect(fresh).toMatchObject({ status: 'open', canReveal: false });
    expect(fresh.meta).not.toMatch(/New values/);
    const stuck = drawnState(
      { tries: 3, solved: false, revealed: false },
      ['a', 'b', 'c'],
      null,
      false,
    );
    expect(stuck).toMatchObject({ canReveal: true, hints: ['a', 'b', 'c'] });
    expect(stuck.hintsTotal).toBeUndefined();
    const solved = drawnState({ tries: 1, solved: true, revealed: false }, ['a'], null, false);
    expect(solved).toMatchObject({
      status: 'solved',
      canReveal: false,
      meta: 'Solved after 1 wrong try.',
    });
    const shown = drawnState({ tries: 3, solved: false, revealed: true }, ['a'], 'It is 5.', false);
    expect(shown).toMatchObject({ status: 'revealed', answer: 'It is 5.', canReveal: false });
  });
});
