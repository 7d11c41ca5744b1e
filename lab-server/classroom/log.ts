/**
 * The class's durable record: an append-only log of JSON lines, one record per line, each with a
 * checksum of its own text. Chosen over an embedded database because it needs nothing native
 * (better-sqlite3's prebuilt binaries come from GitHub, `node:sqlite` needs Node 22.5+, and this
 * project runs on Node 20 to 24), because a class writes a few records per second per student and
 * only ever reads them back at start, and because every line can be checked and, when damaged,
 * named by its number.
 *
 * Durability: a record is acknowledged only after the bytes are written and `fdatasync` returned.
 * Group commit: records that arrive while one sync is in flight wait for it, then go together in
 * one write and one sync, so 500 students submitting at once cost a few syncs, not 500.
 *
 * Line format: `{"r":<record JSON>,"sum":"<16 hex of SHA-256 over the record JSON>"}`. A process
 * killed mid-write leaves at most one partial last line; the replay reports it, keeps a copy of
 * its bytes beside the log, and cuts it off so the next append starts on a clean line.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';

const PREFIX = '{"r":';
const SUM_CHARS = 16;
/** `,"sum":"` + 16 hex + `"}` */
const SUFFIX_CHARS = 8 + SUM_CHARS + 2;

export interface LogDamage {
  /** 1-based line number in the log file. */
  readonly line: number;
  readonly problem: string;
  /** The start of the damaged line, for the report (control characters shown as \xNN). */
  readonly preview: string;
}

export interface Replay<R> {
  readonly records: readonly R[];
  readonly damage: readonly LogDamage[];
  /** Where the bytes of a cut-off last line were saved, if there was one. */
  readonly savedTail: string | null;
}

/** Checks a record's shape; returns the record or what is wrong with it. */
export type RecordReader<R> = (value: unknown) => R | string;

function checksum(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, SUM_CHARS);
}

export function encodeLine(record: unknown): string {
  const text = JSON.stringify(record);
  return `${PREFIX}${text},"sum":"${checksum(text)}"}\n`;
}

function preview(line: string): string {
  const head = line.length > 80 ? `${line.slice(0, 80)}…` : line;
  return head.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line's record, or why it cannot be trusted. */
export function decodeLine<R>(line: string, read: RecordReader<R>): R | string {
  if (!line.startsWith(PREFIX) || line.length < PREFIX.length + SUFFIX_CHARS) {
    return `does not start with ${PREFIX} or is too short to be a record`;
  }
  const suffix = line.slice(line.length - SUFFIX_CHARS);
  const sum = /^,"sum":"([0-9a-f]{16})"}$/.exec(suffix)?.[1];
  if (sum === undefined) return 'has no checksum at its end';
  const text = line.slice(PREFIX.length, line.length - SUFFIX_CHARS);
  if (checksum(text) !== sum) return 'checksum mismatch: the record was changed or damaged on disk';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `is not JSON (${(error as Error).message})`;
  }
  return read(value);
}

/**
 * Reads the log at start. Good records are kept whatever surrounds them; each bad line is
 * reported. A last line without its newline was being written when the process stopped (the
 * newline is the last byte of every append): it is reported, saved, and cut off the file.
 */
export function replayLog<R>(path: string, read: RecordReader<R>): Replay<R> {
  if (!existsSync(path)) return { records: [], damage: [], savedTail: null };
  const bytes = readFileSync(path);
  const records: R[] = [];
  const damage: LogDamage[] = [];
  let savedTail: string | null = null;
  let start = 0;
  let lineNumber = 0;
  while (start < bytes.length) {
    lineNumber++;
    const end = bytes.indexOf(0x0a, start);
    if (end === -1) {
      const tail = bytes.subarray(start);
      savedTail = `${path}.partial-${Date.now()}`;
      writeFileSync(savedTail, tail);
      damage.push({
        line: lineNumber,
        problem: `is cut off after ${tail.length} bytes (the server stopped while writing it; it was never acknowledged). Its bytes were saved to ${savedTail} and removed from the log.`,
        preview: preview(tail.toString('utf8')),
      });
      cutOff(path, start);
      break;
    }
    const line = bytes.subarray(start, end).toString('utf8');
    start = end + 1;
    if (line === '') {
      damage.push({ line: lineNumber, problem: 'is empty', preview: '' });
      continue;
    }
    const result = decodeLine(line, read);
    if (typeof result === 'string') {
      damage.push({ line: lineNumber, problem: result, preview: preview(line) });
    } else {
      records.push(result);
    }
  }
  return { records, damage, savedTail };
}

function cutOff(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    // ftruncate through the descriptor, then sync, so the cut is as durable as the appends.
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** Appends records durably, in order, several per `fdatasync` when they arrive together. */
export class AppendLog {
  readonly #file: FileHandle;
  #pending: string[] = [];
  #waiters: Waiter[] = [];
  #flushing = false;
  #failed: Error | null = null;
  #closed = false;
  /** Counters for the bench and the tests. */
  syncs = 0;
  records = 0;

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  static async open(path: string): Promise<AppendLog> {
    const created = !existsSync(path);
    const file = await open(path, 'a', 0o600);
    if (created) {
      // The new file's directory entry must be durable too, or a crash could lose the file.
      const dir = await open(dirname(path), 'r');
      try {
        await dir.sync();
      } catch {
        // Some platforms (Windows) cannot sync a directory; the file's own sync still holds.
      } finally {
        await dir.close();
      }
    }
    return new AppendLog(file);
  }

  /** Resolves once the record is on disk (written and synced); rejects if that failed. */
  append(record: unknown): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new Error('the class log is closed'));
    const line = encodeLine(record);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push(line);
      this.#waiters.push({ resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0) {
      const lines = this.#pending;
      const waiters = this.#waiters;
      this.#pending = [];
      this.#waiters = [];
      try {
        const buffer = Buffer.from(lines.join(''), 'utf8');
        let written = 0;
        while (written < buffer.length) {
          const { bytesWritten } = await this.#file.write(buffer, written);
          written += bytesWritten;
        }
        await this.#file.datasync();
        this.syncs++;
        this.records += lines.length;
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        // After a failed write the file may end in a partial line: refuse everything after it
        // rather than acknowledge records the next start might not read.
        this.#failed = new Error(`the class log could not be written: ${(error as Error).message}`);
        for (const waiter of [...waiters, ...this.#waiters]) waiter.reject(this.#failed);
        this.#pending = [];
        this.#waiters = [];
      }
    }
    this.#flushing = false;
  }

  /** Waits for what is pending, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#flushing) await new Promise((resolve) => setTimeout(resolve, 1));
    await this.#file.close();
  }
}
