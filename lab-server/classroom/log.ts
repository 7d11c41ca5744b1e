/**
 * The class's durable record: an append-only log of JSON lines, one record per line, each with a
 * checksum of its own text. Chosen over an embedded database because it needs nothing native
 * (better-sqlite3's prebuilt binaries come from GitHub, `node:sqlite` needs Node 22.5+, and this
 * project runs on Node 20 to 24), because a class writes a few records per second per student and
 * only ever reads them back at start, and because every line can be checked and, when damaged,
 * named by its number.
 *
 * Durability: a record is acknowledged only after the bytes are written and `fdatasync` returned.
 * Group commit: records that arrive while a batch is being written go together in the next write
 * and sync, so 500 students submitting at once cost a few syncs, not 500; and a new batch does
 * not wait for the sync in flight (up to two run at once), so an answer waits for about one.
 *
 * Line format: `{"r":<record JSON>,"sum":"<16 hex of SHA-256 over the record JSON>"}`. The file
 * is grown ahead of the records with zero bytes (see `AppendLog.#write`); the records end where
 * the zeros start. A process killed mid-write leaves at most one partial last line; the replay
 * reports it, keeps a copy of its bytes beside the log, and cuts it off so the next append
 * starts on a clean line.
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
  /** The line number of each record, in the same order. */
  readonly lines: readonly number[];
  readonly damage: readonly LogDamage[];
  /** Where the bytes of a cut-off last line were saved, if there was one. */
  readonly savedTail: string | null;
  /** Where the records end: the next append goes here (zero bytes after it are preallocated). */
  readonly end: number;
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
  if (!existsSync(path)) return { records: [], lines: [], damage: [], savedTail: null, end: 0 };
  const bytes = readFileSync(path);
  const records: R[] = [];
  const lines: number[] = [];
  const damage: LogDamage[] = [];
  let savedTail: string | null = null;
  let start = 0;
  let lineNumber = 0;
  while (start < bytes.length) {
    // Zero bytes where a line would start: the space the log preallocates, not yet written.
    if (bytes[start] === 0 && allZero(bytes, start)) break;
    lineNumber++;
    const end = bytes.indexOf(0x0a, start);
    const zero = bytes.indexOf(0, start);
    if (end === -1 || (zero !== -1 && zero < end)) {
      const tail = bytes.subarray(start, zero === -1 ? bytes.length : zero);
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
      lines.push(lineNumber);
    }
  }
  return { records, lines, damage, savedTail, end: start };
}

function allZero(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
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

/** The last few thousand durations of something, for percentiles in the bench. */
export class Timings {
  readonly #values = new Float64Array(8192);
  #count = 0;

  add(ms: number): void {
    this.#values[this.#count++ % this.#values.length] = ms;
  }

  percentile(p: number): number {
    const n = Math.min(this.#count, this.#values.length);
    if (n === 0) return Number.NaN;
    const sorted = this.#values.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.floor(n * p))] as number;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Syncs that may run at once. A sync started while another runs covers everything written
 * before it, so an answer waits for one sync, not for the one in flight and then its own. Kept
 * small: each sync holds one of libuv's four threads, which the site's file reads share.
 */
const MAX_SYNCS_IN_FLIGHT = 2;

/** Zeros written ahead of the records at a time (see `#write`): about 5,000 records. */
const PREALLOCATE_BYTES = 1024 * 1024;

/** Appends records durably, in order, several per `fdatasync` when they arrive together. */
export class AppendLog {
  readonly #file: FileHandle;
  #pending: string[] = [];
  #pendingWaiters: Waiter[] = [];
  /** Written, not yet covered by a finished sync, in write order, with their batch number. */
  readonly #unsynced: { readonly batch: number; readonly waiter: Waiter }[] = [];
  #batches = 0;
  #writing = false;
  #syncing = 0;
  #failed: Error | null = null;
  #closed = false;
  #idle: (() => void) | null = null;
  /** Where the next batch is written, and the file's size (zeros past the records). */
  #position: number;
  #allocated: number;
  /** Counters for the bench and the tests. */
  syncs = 0;
  records = 0;
  /** How long each fdatasync took, in ms (the last few thousand). */
  readonly syncTimes = new Timings();

  private constructor(file: FileHandle, position: number, allocated: number) {
    this.#file = file;
    this.#position = position;
    this.#allocated = allocated;
  }

  /** Opens the log to append at `end` (from `replayLog`), creating it if needed. */
  static async open(path: string, end = 0): Promise<AppendLog> {
    const created = !existsSync(path);
    const file = await open(path, created ? 'w+' : 'r+', 0o600);
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
    const { size } = await file.stat();
    return new AppendLog(file, Math.min(end, size), size);
  }

  /** Resolves once the record is on disk (written and synced); rejects if that failed. */
  append(record: unknown): Promise<void> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new Error('the class log is closed'));
    const line = encodeLine(record);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push(line);
      this.#pendingWaiters.push({ resolve, reject });
      this.#pump();
    });
  }

  /**
   * Writes what is pending as one batch (writes go one after another, so lines never
   * interleave), then syncs it; the next batch may be written while that sync runs.
   */
  #pump(): void {
    if (this.#writing || this.#failed !== null || this.#pending.length === 0) return;
    if (this.#syncing >= MAX_SYNCS_IN_FLIGHT) return;
    this.#writing = true;
    const lines = this.#pending;
    const waiters = this.#pendingWaiters;
    this.#pending = [];
    this.#pendingWaiters = [];
    const batch = ++this.#batches;
    this.#write(Buffer.from(lines.join(''), 'utf8')).then(
      () => {
        this.#writing = false;
        this.records += lines.length;
        for (const waiter of waiters) this.#unsynced.push({ batch, waiter });
        this.#syncing++;
        const started = performance.now();
        // fdatasync flushes every byte written to the file before it started: this batch and
        // any earlier one whose own sync is still running.
        this.#file.datasync().then(
          () => {
            this.#syncing--;
            this.syncs++;
            this.syncTimes.add(performance.now() - started);
            while ((this.#unsynced[0]?.batch ?? Number.POSITIVE_INFINITY) <= batch) {
              this.#unsynced.shift()?.waiter.resolve();
            }
            this.#pump();
            this.#checkIdle();
          },
          (error: Error) => this.#fail(error),
        );
        this.#pump();
      },
      (error: Error) => {
        this.#writing = false;
        for (const waiter of waiters) this.#unsynced.push({ batch, waiter });
        this.#fail(error);
      },
    );
  }

  /**
   * Writes at the end of the records, into space written with zeros and synced beforehand: a
   * write that does not grow the file changes no metadata the data needs, so `fdatasync` can
   * skip the filesystem journal and only flush the data. Growing the file was the slow part of
   * every sync on a busy disk (the journal commit waits for every other program's changes).
   */
  async #write(buffer: Buffer): Promise<void> {
    if (this.#position + buffer.length > this.#allocated) {
      const size = Math.max(this.#allocated, this.#position) + buffer.length + PREALLOCATE_BYTES;
      const zeros = Buffer.alloc(size - this.#allocated);
      let done = 0;
      while (done < zeros.length) {
        const { bytesWritten } = await this.#file.write(
          zeros,
          done,
          zeros.length - done,
          this.#allocated + done,
        );
        done += bytesWritten;
      }
      // A full sync: the new size and blocks must be durable before any data relies on them.
      await this.#file.sync();
      this.#allocated = size;
    }
    let written = 0;
    while (written < buffer.length) {
      const { bytesWritten } = await this.#file.write(
        buffer,
        written,
        buffer.length - written,
        this.#position + written,
      );
      written += bytesWritten;
    }
    this.#position += buffer.length;
  }

  /**
   * After a failed write or sync the file may end in a partial line, or hold lines that are not
   * durable: refuse everything from here on rather than acknowledge what the next start might
   * not read.
   */
  #fail(error: Error): void {
    if (this.#failed === null) {
      this.#failed = new Error(`the class log could not be written: ${error.message}`);
    }
    if (this.#syncing > 0) this.#syncing--;
    const failed = this.#failed;
    for (const { waiter } of this.#unsynced.splice(0)) waiter.reject(failed);
    for (const waiter of this.#pendingWaiters.splice(0)) waiter.reject(failed);
    this.#pending = [];
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (
      this.#idle !== null &&
      !this.#writing &&
      this.#syncing === 0 &&
      this.#pending.length === 0
    ) {
      this.#idle();
      this.#idle = null;
    }
  }

  /** Waits for what is pending, then closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#writing || this.#syncing > 0 || this.#pending.length > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    await this.#file.close();
  }
}
