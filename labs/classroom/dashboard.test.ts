import { describe, expect, it } from 'vitest';
import { CHAPTERS } from '../exercises/types.ts';
import {
  applyMessage,
  applyMessages,
  cellOf,
  chaptersWithExercises,
  type DashboardState,
  DEFAULT_FILTER,
  exerciseCounts,
  onlineCount,
  resultKey,
  solvedBy,
  visibleExercises,
  visibleStudents,
} from './dashboard.ts';
import type { ChapterStates, ResultSummary, SnapshotMessage } from './protocol.ts';

const open = Object.fromEntries(CHAPTERS.map((c) => [c, 'open'])) as ChapterStates;

function snapshot(extra: Partial<SnapshotMessage> = {}): SnapshotMessage {
  return {
    type: 'snapshot',
    class: {
      name: 'Networks 101',
      code: 'K7QX2M',
      studentUrl: 'http://10.0.0.5:6455/classroom/',
      qrSvg: '<svg/>',
    },
    chapters: open,
    exercises: [
      { id: 'hs-a', chapter: 'handshake', title: 'A', kind: 'short-answer' },
      { id: 'hs-b', chapter: 'handshake', title: 'B', kind: 'choice' },
      { id: 'fr-a', chapter: 'frames', title: 'C', kind: 'frame-fields' },
    ],
    students: [
      { id: 's1', name: 'Zoë', joinedAt: '2026-11-25T09:00:00Z', online: true },
      { id: 's2', name: 'adam', joinedAt: '2026-11-25T09:01:00Z', online: false },
    ],
    results: [
      { student: 's1', exercise: 'hs-a', tries: 1, solved: true, revealed: false, lastAt: 'x' },
      { student: 's2', exercise: 'hs-a', tries: 2, solved: false, revealed: false, lastAt: 'x' },
    ],
    wrong: { 'hs-a': [{ answer: 'abc', count: 2 }] },
    ...extra,
  };
}

function start(): DashboardState {
  const state = applyMessage(null, snapshot()).state;
  if (state === null) throw new Error('no state');
  return state;
}

const result = (r: Partial<ResultSummary>): ResultSummary => ({
  student: 's2',
  exercise: 'hs-a',
  tries: 0,
  solved: false,
  revealed: false,
  lastAt: '2026-11-25T09:05:00Z',
  ...r,
});

describe('dashboard state', () => {
  it('builds everything from the snapshot and asks for a full redraw', () => {
    const step = applyMessage(null, snapshot());
    expect(step.changes.all).toBe(true);
    const state = step.state as DashboardState;
    expect(state.students.size).toBe(2);
    expect(state.results.get(resultKey('s1', 'hs-a'))?.solved).toBe(true);
    expect(state.wrong.get('hs-a')).toEqual([{ answer: 'abc', count: 2 }]);
    expect(onlineCount(state)).toBe(1);
  });

  it('ignores updates that arrive before any snapshot', () => {
    const step = applyMessage(null, { type: 'result', result: result({}) });
    expect(step.state).toBeNull();
    expect(step.changes.cells).toEqual([]);
  });

  it('applies a result to one cell, its student and its exercise only', () => {
    const before = start();
    const step = applyMessage(before, {
      type: 'result',
      result: result({ tries: 2, solved: true }),
      wrong: [{ answer: 'abc', count: 3 }],
    });
    expect(step.changes).toEqual({
      all: false,
      chapters: false,
      cells: [resultKey('s2', 'hs-a')],
      students: ['s2'],
      exercises: ['hs-a'],
    });
    const state = step.state as DashboardState;
    expect(exerciseCounts(state, 'hs-a')).toEqual({ solved: 2, attempted: 2, revealed: 0 });
    expect(state.wrong.get('hs-a')).toEqual([{ answer: 'abc', count: 3 }]);
    // The state before is untouched (the view may still hold it).
    expect(exerciseCounts(before, 'hs-a').solved).toBe(1);
  });

  it('keeps the wrong answers when a result does not carry new ones', () => {
    const state = applyMessage(start(), { type: 'result', result: result({ tries: 3 }) })
      .state as DashboardState;
    expect(state.wrong.get('hs-a')).toEqual([{ answer: 'abc', count: 2 }]);
  });

  it('adds a row for a new student, and updates an known one in place', () => {
    const joined = applyMessage(start(), {
      type: 'student',
      student: { id: 's3', name: '<b>x</b>', joinedAt: 'y', online: true },
    });
    expect(joined.changes.all).toBe(true);
    const back = applyMessage(joined.state, {
      type: 'student',
      student: { id: 's2', name: 'adam', joinedAt: 'y', online: true },
    });
    expect(back.changes.all).toBe(false);
    expect(back.changes.students).toEqual(['s2']);
    expect(onlineCount(back.state as DashboardState)).toBe(3);
  });

  it('a result from a student not seen yet asks for a full redraw', () => {
    const step = applyMessage(start(), { type: 'result', result: result({ student: 's9' }) });
    expect(step.changes.all).toBe(true);
  });

  it('applies a batch in order, later results replacing earlier ones', () => {
    const step = applyMessage(start(), {
      type: 'batch',
      updates: [
        { type: 'result', result: result({ tries: 3 }) },
        { type: 'result', result: result({ tries: 3, solved: true }) },
        { type: 'chapters', chapters: { ...open, frames: 'locked' } },
      ],
    });
    const state = step.state as DashboardState;
    expect(state.results.get(resultKey('s2', 'hs-a'))?.solved).toBe(true);
    expect(state.chapters.frames).toBe('locked');
    expect(step.changes.chapters).toBe(true);
    expect(step.changes.cells).toEqual([resultKey('s2', 'hs-a')]);
  });

  it('a new snapshot (after a reconnection) replaces everything', () => {
    const state = applyMessages(start(), [
      { type: 'result', result: result({ tries: 3 }) },
      snapshot({ students: [], results: [], wrong: {} }),
    ]).state as DashboardState;
    expect(state.students.size).toBe(0);
    expect(state.results.size).toBe(0);
  });
});

describe('what the table shows', () => {
  it('words each cell, never by colour alone', () => {
    expect(cellOf(undefined)).toEqual({ status: 'none', text: '', label: 'not tried' });
    expect(cellOf(result({ solved: true }))).toMatchObject({ status: 'solved', text: '✓' });
    expect(cellOf(result({ solved: true, tries: 2 }))).toMatchObject({
      text: '✓ 2',
      label: 'solved after 2 wrong tries',
    });
    expect(cellOf(result({ tries: 1 }))).toMatchObject({ status: 'trying', text: '1 ✗' });
    expect(cellOf(result({ tries: 3, revealed: true }))).toMatchObject({ status: 'revealed' });
  });

  it('filters exercises by chapter and students by name and presence, and sorts', () => {
    const state = start();
    expect(
      visibleExercises(state, { ...DEFAULT_FILTER, chapter: 'frames' }).map((e) => e.id),
    ).toEqual(['fr-a']);
    expect(visibleStudents(state, DEFAULT_FILTER).map((s) => s.id)).toEqual(['s1', 's2']);
    expect(visibleStudents(state, { ...DEFAULT_FILTER, sort: 'name' }).map((s) => s.name)).toEqual([
      'adam',
      'Zoë',
    ]);
    expect(visibleStudents(state, { ...DEFAULT_FILTER, name: 'ZO' }).map((s) => s.id)).toEqual([
      's1',
    ]);
    expect(visibleStudents(state, { ...DEFAULT_FILTER, name: ' dam ' }).map((s) => s.id)).toEqual([
      's2',
    ]);
    expect(visibleStudents(state, { ...DEFAULT_FILTER, name: 'nobody' })).toHaveLength(0);
    expect(
      visibleStudents(state, { ...DEFAULT_FILTER, onlineOnly: true }).map((s) => s.id),
    ).toEqual(['s1']);
    expect(solvedBy(state, 's1')).toBe(1);
    expect(visibleStudents(state, { ...DEFAULT_FILTER, sort: 'solved' })[0]?.id).toBe('s1');
  });

  it('groups exercises by chapter in course order', () => {
    expect(chaptersWithExercises(start())).toEqual([
      { chapter: 'handshake', exercises: 2 },
      { chapter: 'frames', exercises: 1 },
    ]);
  });

  it('applies 20,000 results to 500 students × 40 exercises, batch by batch', () => {
    const exercises = Array.from({ length: 40 }, (_, i) => ({
      id: `ex-${i}`,
      chapter: 'frames' as const,
      title: `E${i}`,
      kind: 'short-answer' as const,
    }));
    const students = Array.from({ length: 500 }, (_, i) => ({
      id: `s${i}`,
      name: `Student ${i}`,
      joinedAt: 'x',
      online: true,
    }));
    let state = applyMessage(null, snapshot({ exercises, students, results: [], wrong: {} })).state;
    // 40 batches of 500 results: every student answers one exercise per batch.
    for (let e = 0; e < 40; e++) {
      state = applyMessage(state, {
        type: 'batch',
        updates: students.map((s) => ({
          type: 'result' as const,
          result: result({ student: s.id, exercise: `ex-${e}`, tries: 1 }),
        })),
      }).state;
    }
    const final = state as DashboardState;
    expect(final.results.size).toBe(20_000);
    expect(exerciseCounts(final, 'ex-39')).toEqual({ solved: 0, attempted: 500, revealed: 0 });
  });
});
