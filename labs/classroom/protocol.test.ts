import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acceptSteps } from '../exercises/chapters/accept.ts';
import { allExercises, exerciseById } from '../exercises/registry.ts';
import { paramsFor } from '../exercises/session.ts';
import { CHAPTERS } from '../exercises/types.ts';
import {
  answerDisplay,
  exerciseView,
  isJoinCode,
  JOIN_CODE_ALPHABET,
  MAX_MESSAGE_BYTES,
  normaliseJoinCode,
  parseStudentMessage,
  parseTeacherMessage,
  type StudentMessage,
  type TeacherMessage,
  validateDisplayName,
} from './protocol.ts';

const exerciseId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,79}$/);
const req = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/);
const item = fc.string({ maxLength: 200 });
const answer = fc.oneof(
  fc.string({ maxLength: 4000 }),
  fc.array(item, { maxLength: 64 }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), item, { maxKeys: 20 }),
);

const studentMessage: fc.Arbitrary<StudentMessage> = fc.oneof(
  fc.record({
    type: fc.constant('join' as const),
    code: fc.string({ maxLength: 32 }),
    name: fc.string({ maxLength: 200 }),
  }),
  fc.record({ type: fc.constant('resume' as const), token }),
  fc.record({ type: fc.constant('exercise' as const), id: exerciseId }),
  fc.record({ type: fc.constant('submit' as const), req, id: exerciseId, answer }),
  fc.record({ type: fc.constant('check-live' as const), req, id: exerciseId }),
  fc.record({ type: fc.constant('reveal' as const), req, id: exerciseId }),
);

const teacherMessage: fc.Arbitrary<TeacherMessage> = fc.oneof(
  fc.record({ type: fc.constant('auth' as const), token }),
  fc.record({
    type: fc.constant('chapter' as const),
    chapter: fc.constantFrom(...CHAPTERS),
    state: fc.constantFrom('open' as const, 'locked' as const),
  }),
);

describe('classroom protocol parsers', () => {
  it('read back every valid student and teacher message exactly', () => {
    fc.assert(
      fc.property(studentMessage, (message) => {
        const text = JSON.stringify(message);
        fc.pre(text.length <= MAX_MESSAGE_BYTES);
        const parsed = parseStudentMessage(text);
        expect(parsed).toEqual({ ok: true, message: JSON.parse(text) });
      }),
    );
    fc.assert(
      fc.property(teacherMessage, (message) => {
        expect(parseTeacherMessage(JSON.stringify(message))).toEqual({ ok: true, message });
      }),
    );
  });

  it('never throw on any text or JSON value, and name the field when they refuse', () => {
    const anyText = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(anyText, (text) => {
        for (const parsed of [parseStudentMessage(text), parseTeacherMessage(text)]) {
          if (!parsed.ok) {
            expect(parsed.field).toMatch(
              /^(message|type|code|name|token|id|req|answer|chapter|state)$/,
            );
            expect(parsed.reason.length).toBeGreaterThan(3);
          }
        }
      }),
    );
  });

  it('refuse each field with its reason, keeping req so the error can answer the request', () => {
    const fields = (text: string) => {
      const parsed = parseStudentMessage(text);
      return parsed.ok ? null : [parsed.field, parsed.reason, parsed.req];
    };
    expect(fields('nope')).toEqual(['message', expect.stringMatching(/^is not JSON/), undefined]);
    expect(fields('null')).toEqual(['message', 'must be a JSON object, got null', undefined]);
    expect(fields('{}')).toEqual(['type', 'is missing', undefined]);
    expect(fields('{"type":1}')).toEqual(['type', 'must be a string, got a number', undefined]);
    expect(fields('{"type":"join","code":"K7QX2M"}')).toEqual(['name', 'is missing', undefined]);
    expect(fields('{"type":"resume","token":"a b"}')).toEqual([
      'token',
      'must be base64url (A-Z a-z 0-9 - _)',
      undefined,
    ]);
    expect(fields('{"type":"submit","req":1.5,"id":"x","answer":"a"}')).toEqual([
      'req',
      'must be a whole number from 0 to 2^53 - 1',
      undefined,
    ]);
    expect(fields('{"type":"submit","req":3,"id":"x"}')).toEqual(['answer', 'is missing', 3]);
    expect(fields('{"type":"submit","req":3,"id":"x","answer":[1]}')).toEqual([
      'answer',
      'item 0 must be a string, got a number',
      3,
    ]);
    expect(fields('{"type":"submit","req":3,"id":"x","answer":{"fin":true}}')).toEqual([
      'answer',
      'field "fin" must be a string, got a boolean',
      3,
    ]);
    expect(fields(`{"type":"submit","req":3,"id":"x","answer":"${'a'.repeat(4001)}"}`)).toEqual([
      'answer',
      'is longer than 4000 characters',
      3,
    ]);
    expect(fields(' '.repeat(MAX_MESSAGE_BYTES + 1))).toEqual([
      'message',
      `is ${MAX_MESSAGE_BYTES + 1} characters; the limit is ${MAX_MESSAGE_BYTES}`,
      undefined,
    ]);
    const teacher = parseTeacherMessage('{"type":"chapter","chapter":"nope","state":"open"}');
    expect(teacher).toMatchObject({ ok: false, field: 'chapter' });
  });

  it('keeps a "__proto__" answer field as a field, not a prototype', () => {
    const parsed = parseStudentMessage(
      '{"type":"submit","req":1,"id":"x","answer":{"__proto__":"1"}}',
    );
    expect(
      parsed.ok && parsed.message.type === 'submit' && Object.keys(parsed.message.answer),
    ).toEqual(['__proto__']);
  });
});

/** Names from letters, spaces, controls, bidi marks and emoji (any code point is too slow to draw). */
const nameLike = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ' ',
        '\t',
        '\n',
        '\u0000',
        '\u001b',
        '\u007f',
        '\u0085',
        '\u202e',
        '\u2066',
        '\u2028',
        '😀',
        'é',
        'e\u0301',
      ),
      fc.integer({ min: 0x20, max: 0x24f }).map((c) => String.fromCodePoint(c)),
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

describe('display names and join codes', { timeout: 30_000 }, () => {
  it('refuse control and text-direction characters, and more than 40 characters', () => {
    fc.assert(
      fc.property(nameLike, (name) => {
        const result = validateDisplayName(name);
        if (result.ok) {
          expect(result.name).toBe(result.name.trim());
          expect([...result.name].length).toBeLessThanOrEqual(40);
          expect(result.name).not.toMatch(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
          expect(result.name).not.toBe('');
        }
      }),
    );
    expect(validateDisplayName('  Zoë 😀 ')).toEqual({ ok: true, name: 'Zoë 😀' });
    expect(validateDisplayName('😀'.repeat(40)).ok).toBe(true);
    expect(validateDisplayName('a\tb').ok).toBe(false);
  });

  it('read a code generously (spaces, dashes, lower case) and accept only the unambiguous alphabet', () => {
    expect(normaliseJoinCode(' k7q-x2m ')).toBe('K7QX2M');
    expect(isJoinCode('K7QX2M')).toBe(true);
    for (const bad of ['K7QX2', 'K7QX2MM', 'K7QX0M', 'K7QXOM', 'K7QX1M', 'K7QXIM', 'K7QXLM']) {
      expect(isJoinCode(bad), bad).toBe(false);
    }
    expect(JOIN_CODE_ALPHABET).not.toMatch(/[01OIL]/);
  });
});

describe('exercise views', { timeout: 30_000 }, () => {
  const ALLOWED = [
    'kind',
    'title',
    'chapter',
    'prompt',
    'label',
    'multiple',
    'choices',
    'items',
    'fields',
    'labPath',
  ];

  it('hold what the page draws and never the answer or the reveal, for every exercise and many learners', () => {
    for (const exercise of allExercises()) {
      for (let i = 0; i < 30; i++) {
        const params = paramsFor(exercise, `learner-${i}`, 0);
        const view = exerciseView(exercise, params);
        for (const key of Object.keys(view)) expect(ALLOWED).toContain(key);
        expect(view.kind).toBe(exercise.kind);
        expect(view.prompt).toEqual(exercise.prompt(params));
        expect(JSON.stringify(view)).not.toContain(
          JSON.stringify(exercise.reveal(params)).slice(1, -1),
        );
      }
    }
  });

  it('leave out the expected Sec-WebSocket-Accept of accept-compute', () => {
    const exercise = exerciseById('accept-compute');
    if (exercise === undefined) throw new Error('missing accept-compute');
    for (let i = 0; i < 50; i++) {
      const params = paramsFor(exercise, `s${i}`, 0) as { key: string };
      expect(JSON.stringify(exerciseView(exercise, params))).not.toContain(
        acceptSteps(params.key).accept,
      );
    }
  });

  it('show answers as one short line', () => {
    expect(answerDisplay(null)).toBe('');
    expect(answerDisplay(' a\n b ')).toBe('a b');
    expect(answerDisplay(['x', 'y'])).toBe('x, y');
    expect(answerDisplay({ fin: '1', opcode: ' 2 ' })).toBe('fin=1 opcode=2');
    expect(answerDisplay('z'.repeat(200), 10)).toBe(`${'z'.repeat(9)}…`);
  });
});
