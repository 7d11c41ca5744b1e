/**
 * The classroom's durability promise, tested on the real `pnpm lab --classroom` process: students
 * submit continuously, the server is killed with SIGKILL mid-stream (no chance to flush
 * anything), restarted on the same data folder, and every answer that had been acknowledged
 * with a verdict must be there. Needs the built site (`pnpm build`), as `pnpm lab` serves it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { replayLog } from '../lab-server/classroom/log.ts';
import { readRecord } from '../lab-server/classroom/state.ts';
import { type Json, JsonClient } from '../lab-server/classroom/testing.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly code: string;
  readonly teacherToken: string;
  readonly output: () => string;
}

/** Starts the real lab server in classroom mode and reads its port and secrets from stdout. */
async function startLab(data: string): Promise<Running> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'lab-server/main.ts',
      '--classroom',
      '--data',
      data,
      '--port',
      '0',
      '--no-build',
      '--no-color',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const deadline = Date.now() + 30_000;
  while (!/Class data:/.test(text)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`the lab server did not start:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const port = Number(/running at http:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1]);
  const code = /Join code: +([A-Z0-9]{6})/.exec(text)?.[1] as string;
  const teacherToken = /#token=([A-Za-z0-9_-]+)/.exec(text)?.[1] as string;
  return { child, port, code, teacherToken, output: () => text };
}

const children: ChildProcess[] = [];
const folders: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe('classroom durability', () => {
  it('loses no acknowledged answer when the server is killed with SIGKILL mid-stream, and resumes the class', async () => {
    const data = mkdtempSync(join(tmpdir(), 'wslab-crash-'));
    folders.push(data);
    const first = await startLab(data);
    children.push(first.child);
    const base = `ws://127.0.0.1:${first.port}`;

    const students = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const client = await JsonClient.open(`${base}/classroom`);
        client.send({ type: 'join', code: first.code, name: `Student ${i}` });
        const joined = await client.waitType('joined');
        return {
          client,
          id: (joined.student as Json).id as string,
          token: joined.token as string,
          acked: [] as string[],
          sent: [] as string[],
        };
      }),
    );

    // Every student submits as fast as the server answers (wrong answers: each one is a try).
    let stop = false;
    const loops = students.map(async (student, i) => {
      for (let n = 0; !stop; n++) {
        const answer = `wrong-${i}-${n}`;
        student.sent.push(answer);
        const reply = await student.client
          .request({ type: 'submit', id: 'accept-compute', answer }, 10_000)
          .catch(() => null);
        if (reply === null) return;
        if (reply.type === 'verdict') student.acked.push(answer);
        else {
          // Refused (rate-limited): not stored, so not one of the answers that may be.
          student.sent.pop();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(students.map((s) => s.client.closed));
    await Promise.all(loops);
    const acked = students.reduce((sum, s) => sum + s.acked.length, 0);
    expect(acked).toBeGreaterThan(50);

    // Every acknowledged answer is in the log, in order, for its student.
    const logPath = join(data, readFileSync(join(data, 'current'), 'utf8').trim(), 'results.jsonl');
    const replay = replayLog(logPath, readRecord);
    for (const student of students) {
      const stored = replay.records
        .filter((r) => r.k === 'answer' && r.s === student.id)
        .map((r) => (r.k === 'answer' ? r.a : null));
      expect(stored.slice(0, student.acked.length)).toEqual(student.acked);
      expect(student.sent.slice(0, stored.length)).toEqual(stored);
    }

    // The restarted server resumes the class: same code, students resume, tries intact.
    const second = await startLab(data);
    children.push(second.child);
    expect(second.code).toBe(first.code);
    expect(second.teacherToken).toBe(first.teacherToken);
    expect(second.output()).toContain('(resumed, 8 students)');
    for (const student of students) {
      const client = await JsonClient.open(`ws://127.0.0.1:${second.port}/classroom`);
      client.send({ type: 'resume', token: student.token });
      await client.waitType('joined');
      client.send({ type: 'exercise', id: 'accept-compute' });
      const view = await client.waitType('exercise');
      const tries = (view.state as Json).tries as number;
      expect(tries).toBeGreaterThanOrEqual(student.acked.length);
      expect(tries).toBeLessThanOrEqual(student.sent.length);
      await client.close();
    }
    const exported = await fetch(`http://127.0.0.1:${second.port}/teacher/export.json`, {
      headers: { Authorization: `Bearer ${second.teacherToken}` },
    });
    const body = (await exported.json()) as { students: { id: string }[] };
    expect(body.students.map((s) => s.id).sort()).toEqual(students.map((s) => s.id).sort());
    second.child.kill('SIGTERM');
  });
});
