/**
 * Where a class lives on disk. The data folder holds one folder per class and a `current` file
 * naming the one in use, so `--new-class` starts afresh without deleting anything:
 *
 *   <data>/current                      the active class folder's name
 *   <data>/<created>-<code>/class.json  name, join code, teacher token, class secret
 *   <data>/<created>-<code>/results.jsonl  the log (log.ts)
 *
 * The secrets are written with mode 0600 in a 0700 folder: whoever reads them can act as the
 * teacher. Writes of class.json and `current` go to a temporary file that is synced and renamed,
 * so a crash leaves the old or the new file, never half of one.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import envPaths from 'env-paths';
import {
  isJoinCode,
  JOIN_CODE_ALPHABET,
  JOIN_CODE_LENGTH,
  validateDisplayName,
} from '../../labs/classroom/protocol.ts';

export const CLASS_FORMAT = 'websocket-lab-class';
export const CLASS_VERSION = 1;
export const DEFAULT_CLASS_NAME = 'WebSocket class';

export interface ClassFile {
  readonly format: typeof CLASS_FORMAT;
  readonly version: typeof CLASS_VERSION;
  readonly name: string;
  readonly code: string;
  /** 32 random bytes, base64url: gates the dashboard and the exports. */
  readonly teacherToken: string;
  /** 32 random bytes, base64url: per-student seeds and live tags are HMACs under it. */
  readonly secret: string;
  readonly createdAt: string;
}

export interface OpenedClass {
  readonly folder: string;
  readonly logPath: string;
  readonly file: ClassFile;
  /** False when this start created the class. */
  readonly resumed: boolean;
}

/** The default data folder: the user's data directory (XDG on Linux), never the repository. */
export function defaultDataFolder(): string {
  try {
    return join(envPaths('websocket-lab', { suffix: '' }).data, 'classroom');
  } catch {
    return join(homedir(), '.websocket-lab', 'classroom');
  }
}

export function newJoinCode(): string {
  let code = '';
  for (let i = 0; i < JOIN_CODE_LENGTH; i++)
    code += JOIN_CODE_ALPHABET[randomInt(JOIN_CODE_ALPHABET.length)];
  return code;
}

function writeDurably(path: string, text: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

const B64URL32 = /^[A-Za-z0-9_-]{43}$/;

function readClassFile(path: string): ClassFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path} is damaged (${(error as Error).message}).`);
  }
  const f = value as Partial<Record<keyof ClassFile, unknown>> | null;
  const problem =
    f === null || typeof f !== 'object'
      ? 'it is not a JSON object'
      : f.format !== CLASS_FORMAT || f.version !== CLASS_VERSION
        ? `its format is not ${CLASS_FORMAT} version ${CLASS_VERSION}`
        : typeof f.name !== 'string' || !validateDisplayName(f.name).ok
          ? '"name" is not a valid class name'
          : typeof f.code !== 'string' || !isJoinCode(f.code)
            ? '"code" is not a join code'
            : typeof f.teacherToken !== 'string' || !B64URL32.test(f.teacherToken)
              ? '"teacherToken" is not 32 bytes in base64url'
              : typeof f.secret !== 'string' || !B64URL32.test(f.secret)
                ? '"secret" is not 32 bytes in base64url'
                : typeof f.createdAt !== 'string'
                  ? '"createdAt" is missing'
                  : null;
  if (problem !== null) throw new Error(`${path} is damaged: ${problem}.`);
  return f as ClassFile;
}

export interface OpenClassOptions {
  readonly data: string;
  readonly newClass: boolean;
  /** Sets the class name (also on a class that already exists). */
  readonly name?: string;
  readonly now?: Date;
}

/**
 * Opens the current class of the data folder, or creates one (the first time, or with
 * `newClass`). Throws with a sentence for the teacher when the folder cannot be used.
 */
export function openClassFolder(options: OpenClassOptions): OpenedClass {
  const now = options.now ?? new Date();
  if (options.name !== undefined) {
    const name = validateDisplayName(options.name);
    if (!name.ok) throw new Error(`--class-name: ${name.reason}`);
  }
  mkdirSync(options.data, { recursive: true, mode: 0o700 });
  const currentPath = join(options.data, 'current');
  if (!options.newClass && existsSync(currentPath)) {
    const name = readFileSync(currentPath, 'utf8').trim();
    if (!/^[A-Za-z0-9-]{1,80}$/.test(name)) {
      throw new Error(
        `${currentPath} does not name a class folder; start a new class with --new-class (nothing is deleted).`,
      );
    }
    const folder = join(options.data, name);
    const classPath = join(folder, 'class.json');
    let file = readClassFile(classPath);
    const renamed = options.name === undefined ? null : validateDisplayName(options.name);
    if (renamed?.ok && renamed.name !== file.name) {
      file = { ...file, name: renamed.name };
      writeDurably(classPath, `${JSON.stringify(file, null, 2)}\n`);
    }
    return { folder, logPath: join(folder, 'results.jsonl'), file, resumed: true };
  }
  const named = validateDisplayName(options.name ?? DEFAULT_CLASS_NAME);
  const code = newJoinCode();
  const file: ClassFile = {
    format: CLASS_FORMAT,
    version: CLASS_VERSION,
    name: named.ok ? named.name : DEFAULT_CLASS_NAME,
    code,
    teacherToken: randomBytes(32).toString('base64url'),
    secret: randomBytes(32).toString('base64url'),
    createdAt: now.toISOString(),
  };
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  let folderName = `${stamp}-${code}`;
  for (let i = 2; existsSync(join(options.data, folderName)); i++)
    folderName = `${stamp}-${code}-${i}`;
  const folder = join(options.data, folderName);
  mkdirSync(folder, { mode: 0o700 });
  writeDurably(join(folder, 'class.json'), `${JSON.stringify(file, null, 2)}\n`);
  writeDurably(currentPath, `${folderName}\n`);
  return { folder, logPath: join(folder, 'results.jsonl'), file, resumed: false };
}
