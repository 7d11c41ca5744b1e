/**
 * Classroom mode end to end on real sockets: students join a class on a real lab server, their
 * answers are checked by the exercise checkers on the server, the teacher's dashboard follows,
 * and every refusal is the specific one the contract names.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Answer, MAX_MESSAGE_BYTES } from '../../labs/classroom/protocol.ts';
import { acceptSteps } from '../../labs/exercises/chapters/accept.ts';
import { exerciseById } from '../../labs/exercises/registry.ts';
import { paramsFor } from '../../labs/exercises/session.ts';
import type { ChoiceExercise, Exercise, Verdict } from '../../labs/exercises/types.ts';
import { startLabServer } from '../server.ts';
import { classroomUrls, studentSeed, terminalSafe } from './classroom.ts';
import {
  type Json,
  JsonClient,
  joinStudent,
  openTeacher,
  startTestClass,
  type TestClass,
} from './testing.ts';

const open: TestClass[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function startClass(options: Parameters<typeof startTestClass>[0] = {}): Promise<TestClass> {
  const c = await startTestClass(options);
  open.push(c);
  return c;
}

const MANY = { joinBurst: 1000, joinsPerMinute: 1000 };

function exercise(id: string): Exercise {
  const found = exerciseById(id);
  if (found === undefined) throw new Error(`no exercise ${id}`);
  return found;
}

function paramsOf(c: TestClass, studentId: string, id: string): unknown {
  return paramsFor(exercise(id), studentSeed(c.classroom.file.secret, studentId), 0);
}

async function checkDirectly(id: string, params: unknown, answer: Answer): Promise<Verdict> {
  const e = exercise(id);
  return (e.check as (p: unknown, a: Answer) => Verdict | Promise<Verdict>)(params, answer);
}

/** Collects a dashboard's updates (snapshot, then batches) into results by student/exercise. */
function collectResults(teacher: JsonClient): Map<string, Json> {
  const results = new Map<string, Json>();
  teacher.ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as Json;
    if (message.type !== 'batch') return;
    for (const update of message.updates as Json[]) {
      if (update.type === 'result') {
        const result = update.result as Json;
        results.set(`${result.student}/${result.exercise}`, result);
        if (update.wrong !== undefined)
          results.set(`wrong/${result.exercise}`, { top: update.wrong });
      }
    }
  });
  return results;
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('classroom: many students on real sockets', { timeout: 30_000 }, () => {
  it("50 students join, get their own values without params or answers, and get the checker's verdicts; the teacher sees every result live", async () => {
    const c = await startClass({ limits: MANY });
    const { file } = c.classroom;
    const { client: teacher, snapshot } = await openTeacher(c.lab.ws, file.teacherToken);
    expect((snapshot.class as Json).code).toBe(file.code);
    expect((snapshot.class as Json).qrSvg).toMatch(/^<svg/);
    const results = collectResults(teacher);

    const students = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        joinStudent(c.lab.ws, file.code.toLowerCase(), `Student ${i}`),
      ),
    );
    expect(new Set(students.map((s) => s.id)).size).toBe(50);
    expect(new Set(students.map((s) => s.liveTag)).size).toBe(50);

    const keys = new Set<string>();
    await Promise.all(
      students.map(async (student, i) => {
        const { client } = student;
        client.send({ type: 'exercise', id: 'accept-compute' });
        const view = await client.waitType('exercise');
        expect(Object.keys(view).sort()).toEqual(['hints', 'id', 'state', 'type', 'view']);
        expect(view.state).toEqual({ tries: 0, solved: false, revealed: false });
        expect(view.hints).toEqual([]);
        const params = paramsOf(c, student.id, 'accept-compute') as { key: string };
        keys.add(params.key);
        expect((view.view as Json).prompt).toEqual(exercise('accept-compute').prompt(params));
        expect(Object.keys(view.view as Json).sort()).toEqual([
          'chapter',
          'kind',
          'label',
          'prompt',
          'title',
        ]);

        const right = acceptSteps(params.key).accept;
        const answer = i % 2 === 0 ? right : 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=';
        const verdict = await client.request({ type: 'submit', id: 'accept-compute', answer });
        const direct = await checkDirectly('accept-compute', params, answer);
        expect(verdict).toMatchObject({
          type: 'verdict',
          id: 'accept-compute',
          correct: direct.correct,
          feedback: direct.feedback,
        });
        expect(verdict.state).toEqual({
          tries: direct.correct ? 0 : 1,
          solved: direct.correct,
          revealed: false,
        });
        // The expected accept value never reached a student who did not send it themselves.
        if (i % 2 === 1) for (const raw of client.raw) expect(raw).not.toContain(right);
      }),
    );
    // Per-student values: the keys differ between students.
    expect(keys.size).toBeGreaterThan(45);

    await until(() => results.size === 51, 'the dashboard to show 50 results');
    // A wrong result comes with its exercise's most common wrong answers, counted so far.
    const top = (results.get('wrong/accept-compute') as { top: Json[] }).top;
    expect(top[0]).toMatchObject({ answer: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    expect(top[0]?.count).toBeGreaterThan(0);
    for (const [i, student] of students.entries()) {
      expect(results.get(`${student.id}/accept-compute`)).toMatchObject({
        solved: i % 2 === 0,
        tries: i % 2 === 0 ? 0 : 1,
      });
    }
    // The next snapshot counts the common wrong answer 25 times.
    const again = await openTeacher(c.lab.ws, file.teacherToken);
    expect((again.snapshot.wrong as Json)['accept-compute']).toEqual([
      { answer: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', count: 25 },
    ]);
    expect((again.snapshot.students as Json[]).length).toBe(50);
    expect((again.snapshot.students as Json[]).every((s) => s.online === true)).toBe(true);
    await again.client.close();
    await Promise.all(students.map((s) => s.client.close()));
    await teacher.close();
  });

  it('checks a choice exercise with the same checker as the browser, and reveals only after 3 wrong tries', async () => {
    const c = await startClass();
    const s = await joinStudent(c.lab.ws, c.classroom.file.code, 'Ada');
    const e = exercise('accept-wrong-step') as ChoiceExercise;
    const params = paramsOf(c, s.id, e.id);
    s.client.send({ type: 'exercise', id: e.id });
    const view = (await s.client.waitType('exercise')).view as Json;
    expect(view.choices).toEqual(e.choices(params).map(({ id, label }) => ({ id, label })));
    const verdicts = await Promise.all(
      e
        .choices(params)
        .map(async (choice) => ({ choice, verdict: await e.check(params, [choice.id]) })),
    );
    const right = verdicts.find((v) => v.verdict.correct)?.choice.id as string;
    const wrong = verdicts.find((v) => !v.verdict.correct)?.choice.id as string;

    expect(await s.client.request({ type: 'reveal', id: e.id })).toMatchObject({
      type: 'error',
      reason: expect.stringContaining('after 3 wrong tries'),
    });
    for (let i = 1; i <= 3; i++) {
      const v = await s.client.request({ type: 'submit', id: e.id, answer: [wrong] });
      expect(v).toMatchObject({ correct: false, state: { tries: i } });
      expect((v.hints as string[]).length).toBe(Math.min(i, e.hints(params).length));
    }
    const revealed = await s.client.request({ type: 'reveal', id: e.id });
    expect(revealed).toMatchObject({
      type: 'verdict',
      reveal: e.reveal(params),
      state: { revealed: true },
    });
    // After a reload the exercise comes back with its answer still shown.
    s.client.send({ type: 'exercise', id: e.id });
    expect(await s.client.waitType('exercise')).toMatchObject({
      type: 'exercise',
      reveal: e.reveal(params),
      state: { revealed: true },
    });
    const solved = await s.client.request({ type: 'submit', id: e.id, answer: [right] });
    expect(solved).toMatchObject({ correct: true, state: { solved: true } });
    await s.client.close();
  });

  it("checks a live exercise from the student's own tagged /echo connections", async () => {
    const c = await startClass();
    const s = await joinStudent(c.lab.ws, c.classroom.file.code, 'Grace');
    const other = await joinStudent(c.lab.ws, c.classroom.file.code, 'Linus');
    const id = 'big-picture-one-connection';
    const params = paramsOf(c, s.id, id) as { word: string; count: number };
    expect(await s.client.request({ type: 'check-live', id })).toMatchObject({ type: 'pending' });
    expect(await s.client.request({ type: 'submit', id, answer: 'x' })).toMatchObject({
      type: 'error',
      reason: expect.stringContaining('live exercise'),
    });

    // The other student watches with their own tag: they must not see Grace's frames.
    const watcher = await JsonClient.open(`${c.lab.ws}/observe?tag=${other.liveTag}`);
    const mine = await JsonClient.open(`${c.lab.ws}/observe?tag=${s.liveTag}`);
    expect((await mine.waitType('snapshot')).connections).toEqual([]);
    const echo = await JsonClient.open(`${c.lab.ws}/echo?tag=${s.liveTag}`);
    for (let i = 0; i < params.count; i++) echo.ws.send(JSON.stringify(params.word));
    for (let i = 0; i < params.count; i++) await echo.wait(() => true);
    await mine.wait((m) => m.type === 'message');
    let verdict: Json = {};
    for (let attempt = 0; attempt < 50; attempt++) {
      verdict = await s.client.request({ type: 'check-live', id });
      if (verdict.type === 'verdict') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // JSON.stringify wrapped the word in quotes: a wrong message, named by the checker.
    expect(verdict).toMatchObject({ type: 'verdict', correct: false });
    expect(verdict.feedback).toContain(params.word);

    // A new connection after the wrong try: the exact word, count times.
    const again = await JsonClient.open(`${c.lab.ws}/echo?tag=${s.liveTag}`).catch(() => null);
    expect(again).not.toBeNull();
    const raw = new WebSocket(`${c.lab.ws}/echo?tag=${s.liveTag}`);
    await new Promise((resolve) => raw.once('open', resolve));
    for (let i = 0; i < params.count; i++) raw.send(params.word);
    let solved: Json = {};
    for (let attempt = 0; attempt < 50; attempt++) {
      solved = await s.client.request({ type: 'check-live', id });
      if (solved.type === 'verdict') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(solved).toMatchObject({ type: 'verdict', correct: true, state: { solved: true } });
    expect(watcher.raw.slice(1)).toEqual([]);
    raw.close();
    for (const client of [watcher, mine, echo, again as JsonClient, s.client, other.client])
      await client.close();
  });
});

describe('classroom: the teacher', { timeout: 30_000 }, () => {
  it('locks and opens a chapter: students are told, locked exercises answer an error, and the lock survives a restart', async () => {
    const c = await startClass();
    const s = await joinStudent(c.lab.ws, c.classroom.file.code, 'Ada');
    const { client: teacher } = await openTeacher(c.lab.ws, c.classroom.file.teacherToken);
    teacher.send({ type: 'chapter', chapter: 'accept', state: 'locked' });
    const told = await s.client.waitType('chapters');
    expect((told.chapters as Json).accept).toBe('locked');
    await teacher.wait(
      (m) => m.type === 'batch' && (m.updates as Json[]).some((u) => u.type === 'chapters'),
    );
    expect(await s.client.request({ type: 'submit', id: 'accept-compute', answer: 'x' })).toEqual({
      type: 'error',
      req: expect.any(Number),
      reason: 'chapter locked by the teacher',
    });
    s.client.send({ type: 'exercise', id: 'accept-compute' });
    expect(await s.client.waitType('error')).toMatchObject({
      reason: 'chapter locked by the teacher',
    });

    await s.client.close();
    await teacher.close();
    await c.stop();
    const restarted = await startClass({ data: c.data });
    const { client: t2, snapshot } = await openTeacher(
      restarted.lab.ws,
      restarted.classroom.file.teacherToken,
    );
    expect((snapshot.chapters as Json).accept).toBe('locked');
    t2.send({ type: 'chapter', chapter: 'accept', state: 'open' });
    const back = await JsonClient.open(`${restarted.lab.ws}/classroom`);
    back.send({ type: 'resume', token: s.token });
    await back.waitType('joined');
    await t2.wait(
      (m) => m.type === 'batch' && (m.updates as Json[]).some((u) => u.type === 'chapters'),
    );
    back.send({ type: 'exercise', id: 'accept-compute' });
    expect(await back.waitType('exercise')).toMatchObject({ id: 'accept-compute' });
    await back.close();
    await t2.close();
  });

  it('exports CSV and JSON only with the teacher token, formula-safe and escaped', async () => {
    const c = await startClass();
    const { file } = c.classroom;
    const s = await joinStudent(c.lab.ws, file.code, '=HYPERLINK("http://e.x","x"), "Bob"');
    await s.client.request({ type: 'submit', id: 'accept-compute', answer: '-1+2' });
    const url = `${c.lab.origin}/teacher/export.csv`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: `Bearer ${s.token}` } })).status).toBe(
      401,
    );
    expect(
      (
        await fetch(url, {
          headers: { Authorization: `Bearer ${file.teacherToken}`, Origin: 'http://evil.example' },
        })
      ).status,
    ).toBe(403);
    const csv = await fetch(url, { headers: { Authorization: `Bearer ${file.teacherToken}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('cache-control')).toBe('no-store');
    const text = (await csv.text()).replace(/^\uFEFF/, '');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(
      'student_id,name,chapter,exercise,solved,tries,revealed,last_answer,last_at',
    );
    const row = lines.find((line) => line.includes(',accept-compute,'));
    expect(row).toContain(
      `${s.id},"'=HYPERLINK(""http://e.x"",""x""), ""Bob""",accept,accept-compute,false,1,false,'-1+2,`,
    );
    const json = await fetch(`${c.lab.origin}/teacher/export.json`, {
      headers: { Authorization: `Bearer ${file.teacherToken}` },
    });
    const body = (await json.json()) as Json;
    expect(body.format).toBe('websocket-lab-classroom-results');
    const students = body.students as Json[];
    const first = students[0] as Json;
    expect(first.name).toBe('=HYPERLINK("http://e.x","x"), "Bob"');
    expect((first.results as Json)['accept-compute']).toMatchObject({
      tries: 1,
      solved: false,
      lastAnswer: '-1+2',
    });
    await s.client.close();
  });
});

describe('classroom: every refusal', { timeout: 30_000 }, () => {
  it('refuses a wrong join code, a bad display name and a full class', async () => {
    const c = await startClass({ limits: { maxStudents: 2 } });
    const client = await JsonClient.open(`${c.lab.ws}/classroom`);
    const join = async (code: string, name: string) => {
      client.send({ type: 'join', code, name });
      return client.wait((m) => m.type === 'refused' || m.type === 'joined');
    };
    const wrongCode = c.classroom.file.code === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA';
    expect(await join(wrongCode, 'Ada')).toMatchObject({
      type: 'refused',
      reason: expect.stringContaining('join code'),
    });
    expect(await join(c.classroom.file.code, '   ')).toMatchObject({
      type: 'refused',
      reason: expect.stringContaining('display name'),
    });
    expect(await join(c.classroom.file.code, 'Ada\u001b[31m')).toMatchObject({
      type: 'refused',
      reason: expect.stringContaining('control'),
    });
    expect(await join(c.classroom.file.code, 'Ada\u202eevil')).toMatchObject({
      type: 'refused',
      reason: expect.stringContaining('direction'),
    });
    expect(await join(c.classroom.file.code, 'x'.repeat(41))).toMatchObject({
      type: 'refused',
      reason: expect.stringContaining('41 characters'),
    });
    await joinStudent(c.lab.ws, c.classroom.file.code, 'One');
    await joinStudent(c.lab.ws, c.classroom.file.code, 'Two');
    expect(await join(c.classroom.file.code, 'Three')).toMatchObject({
      type: 'refused',
      reason: 'the class is full (2 students)',
    });
    await client.close();
  });

  it('rate-limits joins per client address and submissions per student', async () => {
    const c = await startClass({
      limits: { joinBurst: 3, joinsPerMinute: 1, submitBurst: 4, submitsPerSecond: 0.5 },
    });
    const code = c.classroom.file.code;
    const s = await joinStudent(c.lab.ws, code, 'A');
    await joinStudent(c.lab.ws, code, 'B');
    const client = await JsonClient.open(`${c.lab.ws}/classroom`);
    client.send({ type: 'join', code: 'ZZZZZZ', name: 'C' });
    expect(await client.waitType('refused')).toMatchObject({
      reason: expect.stringContaining('join code'),
    });
    client.send({ type: 'join', code, name: 'D' });
    expect(await client.waitType('refused')).toMatchObject({
      reason: expect.stringMatching(/^too many joins from 127\.0\.0\.1: wait \d+ s/),
    });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        s.client.request({ type: 'submit', id: 'accept-compute', answer: 'x' }),
      ),
    );
    expect(answers.filter((a) => a.type === 'verdict').length).toBe(4);
    expect(
      answers.filter(
        (a) => a.type === 'error' && String(a.reason).startsWith('too many submissions'),
      ).length,
    ).toBe(2);
    await client.close();
    await s.client.close();
  });

  it('answers malformed messages with the field and the reason, and closes an oversize one with 1009', async () => {
    const c = await startClass();
    const s = await joinStudent(c.lab.ws, c.classroom.file.code, 'A');
    const ask = async (text: string) => {
      s.client.send(text);
      return s.client.waitType('error');
    };
    expect(await ask('{not json')).toMatchObject({
      reason: expect.stringMatching(/^message is not JSON/),
    });
    expect(await ask('[1,2]')).toMatchObject({
      reason: 'message must be a JSON object, got an array',
    });
    expect(await ask('{"type":"dance"}')).toMatchObject({
      reason: expect.stringContaining('"dance" is not a message type'),
    });
    expect(await ask('{"type":"submit","req":7,"id":"accept-compute","answer":5}')).toMatchObject({
      req: 7,
      reason: expect.stringMatching(/^answer must be a string/),
    });
    expect(
      await ask('{"type":"submit","req":8,"id":"accept-compute","answer":["a"]}'),
    ).toMatchObject({ req: 8, reason: expect.stringContaining('takes a string') });
    expect(await ask('{"type":"submit","req":9,"id":"NOPE","answer":"a"}')).toMatchObject({
      req: 9,
      reason: expect.stringMatching(/^id must be an exercise id/),
    });
    expect(
      await ask('{"type":"submit","req":10,"id":"no-such-exercise","answer":"a"}'),
    ).toMatchObject({ req: 10, reason: 'id: there is no exercise "no-such-exercise"' });
    expect(
      await ask('{"type":"submit","req":-1,"id":"accept-compute","answer":"a"}'),
    ).toMatchObject({ reason: expect.stringMatching(/^req must be a whole number/) });
    s.client.ws.send(Buffer.from([1, 2, 3]));
    expect(await s.client.waitType('error')).toMatchObject({
      reason: expect.stringContaining('not binary'),
    });
    s.client.send(
      JSON.stringify({
        type: 'submit',
        req: 11,
        id: 'accept-compute',
        answer: 'x'.repeat(MAX_MESSAGE_BYTES),
      }),
    );
    expect(await s.client.closed).toMatchObject({ code: 1009 });
  });

  it('answers only after join, and closes a connection that floods messages with 1008', async () => {
    const c = await startClass({ limits: { messageBurst: 5, messagesPerSecond: 1 } });
    const client = await JsonClient.open(`${c.lab.ws}/classroom`);
    client.send({ type: 'exercise', id: 'accept-compute' });
    expect(await client.waitType('error')).toMatchObject({
      reason: 'join the class (or resume) first',
    });
    for (let i = 0; i < 40; i++) client.send({ type: 'exercise', id: 'accept-compute' });
    expect(
      await client.wait((m) => String(m.reason).startsWith('too many messages')),
    ).toBeDefined();
    expect(await client.closed).toMatchObject({ code: 1008, reason: 'too many messages' });
  });

  it('refuses a foreign Origin on /classroom and /teacher (RFC 6455 §10.2) before any message', async () => {
    const c = await startClass();
    for (const path of ['/classroom', '/teacher']) {
      const client = new JsonClient(`${c.lab.ws}${path}`, { origin: 'http://evil.example' });
      await expect(client.opened).rejects.toThrow(
        /unexpected response 403: Origin "http:\/\/evil.example" is not allowed/,
      );
    }
    const own = await JsonClient.open(`${c.lab.ws}/classroom`, { origin: c.lab.origin });
    await own.close();
  });

  it('refuses the dashboard with a wrong token, a student token, or no auth in time, with 1008', async () => {
    const c = await startClass({ limits: { teacherAuthTimeoutMs: 300 } });
    const s = await joinStudent(c.lab.ws, c.classroom.file.code, 'A');
    for (const token of ['wrong', s.token]) {
      const t = await JsonClient.open(`${c.lab.ws}/teacher`);
      t.send({ type: 'auth', token });
      expect(await t.waitType('refused')).toEqual({
        type: 'refused',
        reason: 'wrong teacher token',
      });
      expect(await t.closed).toMatchObject({ code: 1008 });
      expect(t.raw.join('')).not.toContain(s.id);
    }
    const first = await JsonClient.open(`${c.lab.ws}/teacher`);
    first.send({ type: 'chapter', chapter: 'accept', state: 'locked' });
    expect(await first.waitType('refused')).toMatchObject({
      reason: expect.stringContaining('first message must be'),
    });
    const slow = await JsonClient.open(`${c.lab.ws}/teacher`);
    expect(await slow.waitType('refused')).toMatchObject({
      reason: 'no auth message within 0.3 s',
    });
    expect(await slow.closed).toMatchObject({ code: 1008 });
    expect(c.classroom.state.chapters.accept).toBe('open');
    await s.client.close();
  });

  it("keeps students apart: no resume with another's id, no view of another's tries, answers or frames", async () => {
    const c = await startClass();
    const a = await joinStudent(c.lab.ws, c.classroom.file.code, 'Alice');
    const b = await joinStudent(c.lab.ws, c.classroom.file.code, 'Bob');
    const secretAnswer = 'ALICE-PRIVATE-ANSWER';
    await a.client.request({ type: 'submit', id: 'accept-compute', answer: secretAnswer });
    b.client.send({ type: 'exercise', id: 'accept-compute' });
    expect((await b.client.waitType('exercise')).state).toEqual({
      tries: 0,
      solved: false,
      revealed: false,
    });
    const thief = await JsonClient.open(`${c.lab.ws}/classroom`);
    thief.send({ type: 'resume', token: a.id });
    expect(await thief.waitType('refused')).toMatchObject({
      reason: expect.stringContaining('not a student of this class'),
    });
    thief.send({ type: 'resume', token: a.liveTag });
    expect(await thief.waitType('refused')).toBeDefined();
    const spy = new JsonClient(`${c.lab.ws}/observe`);
    expect(await spy.closed).toMatchObject({
      code: 1008,
      reason: expect.stringContaining('?tag='),
    });
    const echo = await JsonClient.open(`${c.lab.ws}/echo?tag=${a.liveTag}`);
    echo.ws.send(secretAnswer);
    await echo.wait(() => true);
    const bObserver = await JsonClient.open(`${c.lab.ws}/observe?tag=${b.liveTag}`);
    await bObserver.waitType('snapshot');
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const raw of [...b.client.raw, ...thief.raw, ...bObserver.raw]) {
      expect(raw).not.toContain(secretAnswer);
      expect(raw).not.toContain(a.token);
    }
    for (const client of [a.client, b.client, thief, echo, bObserver]) await client.close();
  });
});

describe('classroom: restart', { timeout: 30_000 }, () => {
  it('resumes the class from the data folder: same code and token, students resume with their token, results intact', async () => {
    const c = await startClass();
    const { code, teacherToken } = c.classroom.file;
    const s = await joinStudent(c.lab.ws, code, 'Ada');
    await s.client.request({ type: 'submit', id: 'accept-compute', answer: 'wrong' });
    await s.client.request({ type: 'submit', id: 'accept-compute', answer: 'wrong again' });
    await s.client.close();
    await c.stop();
    const log = readFileSync(`${c.classroom.folder}/results.jsonl`, 'utf8');
    expect(log).not.toContain(s.token);

    const again = await startClass({ data: c.data });
    expect(again.classroom.file.code).toBe(code);
    expect(again.classroom.file.teacherToken).toBe(teacherToken);
    expect(again.classroom.damage).toEqual([]);
    const back = await JsonClient.open(`${again.lab.ws}/classroom`);
    back.send({ type: 'resume', token: s.token });
    expect(await back.waitType('joined')).toMatchObject({
      student: { id: s.id, name: 'Ada' },
      liveTag: s.liveTag,
    });
    back.send({ type: 'exercise', id: 'accept-compute' });
    const view = await back.waitType('exercise');
    expect(view.state).toEqual({ tries: 2, solved: false, revealed: false });
    expect(view.lastAnswer).toBe('wrong again');
    expect((view.hints as string[]).length).toBe(2);
    await back.close();
  });

  it('reports a damaged log at start (which line, what was wrong) and keeps every good record', async () => {
    const c = await startClass();
    const s = await joinStudent(c.lab.ws, c.classroom.file.code, 'Ada');
    for (const answer of ['one', 'two', 'three']) {
      await s.client.request({ type: 'submit', id: 'accept-compute', answer });
    }
    await s.client.close();
    await c.stop();
    const path = `${c.classroom.folder}/results.jsonl`;
    // The records, without the zeros the log writes ahead of them.
    const lines = readFileSync(path, 'utf8').replace(/\0+$/, '').split('\n');
    // Line 3 ("two") changed on disk, and a record cut off at the end.
    lines[2] = (lines[2] as string).replace('"two"', '"TWO"');
    writeFileSync(path, `${lines.join('\n')}{"r":{"k":"answer","s":"`);
    const again = await startClass({ data: c.data });
    expect(again.classroom.damage.map((d) => [d.line, d.problem.slice(0, 30)])).toEqual([
      [3, 'checksum mismatch: the record '],
      [5, 'is cut off after 24 bytes (the'],
    ]);
    const banner = await again.classroom.banner();
    expect(banner).toContain('has 2 damaged line(s); every good record was kept');
    expect(banner).toContain('  line 3: checksum mismatch');
    const entry = again.classroom.state.progress(s.id, 'accept-compute');
    expect(entry).toMatchObject({ tries: 2, lastAnswer: 'three' });
  });
});

describe('classroom: on the network', { timeout: 30_000 }, () => {
  const lan = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;

  it("prints the machine's network address for students and loopback for the teacher on 0.0.0.0", () => {
    const file = { code: 'K7QX2M', teacherToken: 'T'.repeat(43) } as Parameters<
      typeof classroomUrls
    >[2];
    const urls = classroomUrls('0.0.0.0', 6455, file);
    expect(urls.student).toBe(`http://${lan ?? '127.0.0.1'}:6455/classroom/`);
    expect(urls.studentWithCode).toBe(`${urls.student}#code=K7QX2M`);
    expect(urls.teacher).toBe(`http://127.0.0.1:6455/teacher/#token=${'T'.repeat(43)}`);
    expect(classroomUrls('192.168.1.20', 80, file).student).toBe(
      'http://192.168.1.20:80/classroom/',
    );
  });

  it("accepts a student page served from the machine's network address on 0.0.0.0 (Host and Origin), and still refuses a foreign Origin", async () => {
    if (lan === undefined) throw new Error('this test needs a non-loopback IPv4 address');
    const c = await startClass();
    // A second lab server for the same class, listening on every address, as --host 0.0.0.0.
    const root = mkdtempSync(join(tmpdir(), 'wslab-root-'));
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist', '404.html'), 'not here');
    const wide = await startLabServer({
      host: '0.0.0.0',
      port: 0,
      root,
      endpoints: c.classroom.endpoints,
    });
    try {
      const origin = `http://${lan}:${wide.port}`;
      const student = await JsonClient.open(`ws://${lan}:${wide.port}/classroom`, { origin });
      student.send({ type: 'join', code: c.classroom.file.code, name: 'On the LAN' });
      expect(await student.waitType('joined')).toMatchObject({ student: { name: 'On the LAN' } });
      await student.close();
      const foreign = new JsonClient(`ws://${lan}:${wide.port}/classroom`, {
        origin: 'http://192.0.2.99:6455',
      });
      await expect(foreign.opened).rejects.toThrow(/403/);
    } finally {
      await wide.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('strips control and text-direction characters before a name reaches the terminal', () => {
    expect(terminalSafe('Ada\u001b[2J\u0007\u202eevil\u2028x')).toBe('Ada[2Jevilx');
  });
});
