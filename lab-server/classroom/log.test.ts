import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppendLog, decodeLine, encodeLine, replayLog } from './log.ts';
import { type LogRecord, readRecord } from './state.ts';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function temp(): string {
  const folder = mkdtempSync(join(tmpdir(), 'wslab-log-'));
  folders.push(folder);
  return join(folder, 'results.jsonl');
}

const AT = '2026-11-25T09:00:00.000Z';
const student = (i: number): LogRecord => ({
  k: 'student',
  id: `s${i}`,
  name: `Student ${i}`,
  token: 'a'.repeat(64),
  at: AT,
});

describe('the class log', () => {
  it('acknowledges each append after it is synced, several per sync when they arrive together (group commit)', async () => {
    const path = temp();
    const log = await AppendLog.open(path);
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(student(i))));
    expect(log.records).toBe(300);
    // The first append syncs alone; the 299 that queued behind it share a few syncs.
    expect(log.syncs).toBeLessThan(20);
    await log.close();
    const replay = replayLog(path, readRecord);
    expect(replay.damage).toEqual([]);
    expect(replay.records.map((r) => (r as { id: string }).id)).toEqual(
      Array.from({ length: 300 }, (_, i) => `s${i}`),
    );
  });

  it('reports a cut-off last line, keeps every good record, saves the partial bytes and removes them', async () => {
    const path = temp();
    const good = [student(1), student(2), student(3)].map(encodeLine).join('');
    const partial = encodeLine(student(4)).slice(0, 30);
    writeFileSync(path, good + partial);
    const replay = replayLog(path, readRecord);
    expect(replay.records).toHaveLength(3);
    expect(replay.damage).toHaveLength(1);
    expect(replay.damage[0]).toMatchObject({
      line: 4,
      problem: expect.stringContaining('is cut off after 30 bytes'),
    });
    expect(replay.savedTail).not.toBeNull();
    expect(readFileSync(replay.savedTail as string, 'utf8')).toBe(partial);
    expect(readFileSync(path, 'utf8')).toBe(good);
    // Appending afterwards starts on a clean line, and the next start reads everything.
    const log = await AppendLog.open(path, replay.end);
    await log.append(student(5));
    await log.close();
    const again = replayLog(path, readRecord);
    expect(again.damage).toEqual([]);
    expect(again.records).toHaveLength(4);
  });

  it('reports a damaged record in the middle by line number and reason, and keeps the records around it', () => {
    const path = temp();
    const lines = [1, 2, 3, 4, 5, 6].map((i) => encodeLine(student(i)));
    lines[1] = (lines[1] as string).replace('Student 2', 'Student X'); // changed on disk
    lines[2] = '{"r":{oops},"sum":"0000000000000000"}\n';
    lines[3] = encodeLine({ k: 'answer', s: 's1', e: 'accept-compute', a: 5, c: true, at: AT });
    lines[4] = '\n';
    writeFileSync(path, lines.join(''));
    const replay = replayLog(path, readRecord);
    expect(replay.records.map((r) => (r as { id: string }).id)).toEqual(['s1', 's6']);
    expect(replay.damage.map((d) => [d.line, d.problem])).toEqual([
      [2, 'checksum mismatch: the record was changed or damaged on disk'],
      [3, 'checksum mismatch: the record was changed or damaged on disk'],
      [4, 'field "a" is not an answer'],
      [5, 'is empty'],
    ]);
  });

  it('decodes what it encodes, whatever the text (names with quotes, newlines, emoji)', () => {
    const record: LogRecord = {
      k: 'answer',
      s: 's1',
      e: 'x',
      a: { 'a"b': 'line\nbreak 😀 \u2028' },
      c: false,
      at: AT,
    };
    const line = encodeLine(record);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(decodeLine(line.slice(0, -1), readRecord)).toEqual(record);
  });

  it('refuses appends once closed: nothing is acknowledged that was not written', async () => {
    const path = temp();
    const log = await AppendLog.open(path);
    await log.append(student(1));
    await log.close();
    await expect(log.append(student(2))).rejects.toThrow('closed');
    expect(replayLog(path, readRecord).records).toHaveLength(1);
  });

  it('writes into zeros it allocated ahead (so a sync need not grow the file), which the replay reads as the end', async () => {
    const path = temp();
    const log = await AppendLog.open(path);
    await log.append(student(1));
    await log.append(student(2));
    await log.close();
    const bytes = readFileSync(path);
    const text = [student(1), student(2)].map(encodeLine).join('');
    expect(bytes.length).toBeGreaterThan(1024 * 1024);
    expect(bytes.subarray(0, text.length).toString()).toBe(text);
    expect(bytes.subarray(text.length).every((b) => b === 0)).toBe(true);
    const replay = replayLog(path, readRecord);
    expect(replay).toMatchObject({ damage: [], end: text.length });
    expect(replay.records).toHaveLength(2);
    // A restart appends right after the records, not after the zeros.
    const again = await AppendLog.open(path, replay.end);
    await again.append(student(3));
    await again.close();
    expect(replayLog(path, readRecord).records).toHaveLength(3);
  });

  it('reports a record cut off inside the preallocated zeros, as a crash mid-write leaves it', () => {
    const path = temp();
    const good = encodeLine(student(1));
    const partial = encodeLine(student(2)).slice(0, 40);
    writeFileSync(path, Buffer.concat([Buffer.from(good + partial), Buffer.alloc(4096)]));
    const replay = replayLog(path, readRecord);
    expect(replay.records).toHaveLength(1);
    expect(replay.damage).toEqual([
      expect.objectContaining({
        line: 2,
        problem: expect.stringContaining('cut off after 40 bytes'),
      }),
    ]);
    expect(readFileSync(path, 'utf8')).toBe(good);
  });
});
