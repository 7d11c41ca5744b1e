import { describe, expect, it } from 'vitest';
import {
  chapterSummary,
  EMPTY_EXERCISE,
  type ExerciseProgress,
  loadProgress,
  PROGRESS_FORMAT,
  type Progress,
  parseProgressFile,
  STORAGE_KEY,
  saveProgress,
  toFile,
  withExercise,
} from './progress.ts';
import { allExercises } from './registry.ts';

const NOW = new Date('2026-11-25T07:00:00.000Z');

const solved: ExerciseProgress = {
  round: 1,
  tries: 3,
  revealed: true,
  roundSolved: true,
  solved: true,
  lastAnswer: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
  updatedAt: '2026-11-25T06:59:00.000Z',
};

const progress: Progress = {
  seed: 'a1b2c3d4e5f60718293a4b5c',
  exercises: {
    'accept-compute': solved,
    'accept-order': { ...EMPTY_EXERCISE, tries: 1, lastAnswer: ['send', 'read-key'] },
    'big-picture-header-bytes': { ...EMPTY_EXERCISE, lastAnswer: { fin: '1', opcode: '0x1' } },
  },
};

function file(change: (data: Record<string, unknown>) => void): string {
  const data = JSON.parse(JSON.stringify(toFile(progress, NOW))) as Record<string, unknown>;
  change(data);
  return JSON.stringify(data);
}

function errorsOf(text: string): readonly string[] {
  const parsed = parseProgressFile(text);
  expect(parsed.ok).toBe(false);
  return parsed.ok ? [] : parsed.errors;
}

describe('progress files', () => {
  it('reads back exactly what it exported', () => {
    const parsed = parseProgressFile(JSON.stringify(toFile(progress, NOW)));
    expect(parsed).toEqual({ ok: true, progress, notes: [] });
  });

  it('says which exercises this site does not have, and keeps them', () => {
    const known = new Set(allExercises().map((e) => e.id));
    const text = JSON.stringify(toFile(withExercise(progress, 'chapter-99-gone', solved), NOW));
    const parsed = parseProgressFile(text, known);
    expect(parsed.ok && parsed.notes).toEqual([
      '"chapter-99-gone" is not an exercise on this site; its progress is kept but not shown.',
    ]);
    expect(parsed.ok && parsed.progress.exercises['chapter-99-gone']).toEqual(solved);
  });

  it('refuses what is not JSON, and says so', () => {
    expect(errorsOf('')[0]).toBe('The file is empty.');
    expect(errorsOf('{"format": ')[0]).toMatch(/^The file is not JSON \(/);
    expect(errorsOf('\u0000\u0001PNG')[0]).toMatch(/not JSON/);
  });

  it('refuses JSON that is not a progress record', () => {
    expect(errorsOf('[1,2]')).toEqual([
      'The file holds a list of 2, not a progress record (a JSON object).',
    ]);
    expect(errorsOf('42')).toEqual([
      'The file holds number 42, not a progress record (a JSON object).',
    ]);
    expect(errorsOf('{"name":"x"}')[0]).toMatch(
      /^format: expected "websocket-lab-progress", found nothing/,
    );
  });

  it('tells a newer version apart from a wrong one', () => {
    expect(
      errorsOf(
        file((d) => {
          d.version = 2;
        }),
      )[0],
    ).toMatch(/made by a newer WebSocket Lab/);
    expect(
      errorsOf(
        file((d) => {
          d.version = '1';
        }),
      )[0],
    ).toBe('version: expected 1, found "1".');
  });

  it('names every bad field with its path', () => {
    const errors = errorsOf(
      file((d) => {
        const exercises = d.exercises as Record<string, Record<string, unknown>>;
        (exercises['accept-compute'] as Record<string, unknown>).tries = -1;
        (exercises['accept-order'] as Record<string, unknown>).solved = 'yes';
        (exercises['accept-order'] as Record<string, unknown>).extra = 1;
        d.seed = '../../etc';
        d.exportedAt = 'yesterday';
      }),
    );
    expect(errors).toEqual([
      'exportedAt: expected a UTC date like "2026-11-25T08:00:00.000Z", found "yesterday".',
      'seed: expected 1 to 128 letters, digits, "-" or "_", found "../../etc".',
      'exercises.accept-compute.tries: expected a whole number from 0 to 1000000, found number -1.',
      'exercises.accept-order.extra: not a field of a progress file.',
      'exercises.accept-order.solved: expected true or false, found "yes".',
    ]);
  });

  it('refuses states the exercise view never makes (a reveal before REVEAL_AFTER tries)', () => {
    const errors = errorsOf(
      file((d) => {
        const exercises = d.exercises as Record<string, Record<string, unknown>>;
        (exercises['accept-compute'] as Record<string, unknown>).tries = 1;
        (exercises['accept-order'] as Record<string, unknown>).roundSolved = true;
      }),
    );
    expect(errors).toEqual([
      'exercises.accept-compute: revealed is true after 1 wrong tries; the answer is only shown after 3.',
      'exercises.accept-order: roundSolved is true but solved is false; solving the current values solves the exercise.',
    ]);
  });

  it('refuses bad ids, bad answers and oversized files without trying to show them whole', () => {
    const long = 'x'.repeat(500);
    const errors = errorsOf(
      file((d) => {
        const exercises = d.exercises as Record<string, unknown>;
        exercises['<script>'] = solved;
        (exercises['accept-order'] as Record<string, unknown>).lastAnswer = [1, 2];
        (exercises['accept-compute'] as Record<string, unknown>).lastAnswer = { fin: 1 };
        (exercises['big-picture-header-bytes'] as Record<string, unknown>).lastAnswer = true;
        exercises[long] = solved;
      }),
    );
    expect(errors).toContain(
      'exercises.<script>: "<script>" is not an exercise id (lowercase letters, digits and "-").',
    );
    expect(errors).toContain(
      'exercises.accept-order.lastAnswer: item 0 is number 1, expected a short string.',
    );
    expect(errors).toContain(
      'exercises.accept-compute.lastAnswer: field "fin" is number 1, expected text.',
    );
    expect(errors.every((error) => error.length < 300)).toBe(true);
    const huge = `{"format":"${PROGRESS_FORMAT}","pad":"${'a'.repeat(1_100_000)}"}`;
    expect(errorsOf(huge)[0]).toMatch(/^The file has 1,100,0\d\d characters/);
  });

  it('lists at most 20 problems for a file full of garbage', () => {
    const exercises: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) exercises[`e${i}`] = { round: 'x' };
    const errors = errorsOf(JSON.stringify({ ...toFile(progress, NOW), exercises }));
    expect(errors.length).toBeLessThanOrEqual(21);
  });
});

describe('stored progress', () => {
  function memory(initial?: string) {
    const map = new Map<string, string>(initial === undefined ? [] : [[STORAGE_KEY, initial]]);
    return {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      map,
    };
  }

  it('makes a seed when there is nothing stored, and reads back what it saved', () => {
    const store = memory();
    const first = loadProgress(store, () => 'fresh-seed');
    expect(first).toEqual({ progress: { seed: 'fresh-seed', exercises: {} }, damaged: null });
    expect(saveProgress(store, progress, NOW)).toBe(true);
    expect(loadProgress(store, () => 'other').progress).toEqual(progress);
  });

  it('says why unreadable storage was replaced instead of failing', () => {
    const loaded = loadProgress(memory('{broken'), () => 'fresh-seed');
    expect(loaded.progress.seed).toBe('fresh-seed');
    expect(loaded.damaged?.[0]).toMatch(/not JSON/);
  });

  it('counts solved exercises per chapter', () => {
    const summary = chapterSummary(progress, 'accept', allExercises());
    expect(summary.total).toBe(5);
    expect(summary.solved).toBe(1);
    expect(summary.items.find((i) => i.id === 'accept-order')?.status).toBe('tried');
    expect(summary.items.find((i) => i.id === 'accept-valid-keys')?.status).toBe('new');
  });
});
