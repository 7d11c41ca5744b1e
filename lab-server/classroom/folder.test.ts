import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isJoinCode } from '../../labs/classroom/protocol.ts';
import { HELP, parseOptions } from '../options.ts';
import { defaultDataFolder, openClassFolder } from './folder.ts';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});
function temp(): string {
  const folder = mkdtempSync(join(tmpdir(), 'wslab-folder-'));
  folders.push(folder);
  return folder;
}

describe('pnpm lab --classroom options', () => {
  it('reads the classroom flags, and quiets the per-frame output (a class makes thousands of frames)', () => {
    const options = parseOptions([
      '--classroom',
      '--data',
      './c',
      '--new-class',
      '--class-name',
      'Year 12',
      '--max-students',
      '30',
    ]);
    expect(options.classroom).toEqual({
      data: './c',
      newClass: true,
      className: 'Year 12',
      maxStudents: 30,
    });
    expect(options.output).toBe('quiet');
    expect(parseOptions(['--classroom', '--json']).output).toBe('json');
    expect(parseOptions(['--classroom']).classroom).toEqual({
      data: null,
      newClass: false,
      className: null,
      maxStudents: null,
    });
  });

  it('refuses classroom flags without --classroom, and a bad --max-students, saying why', () => {
    expect(() => parseOptions(['--data', 'x'])).toThrow('--data works only with --classroom.');
    expect(() => parseOptions(['--new-class'])).toThrow('--new-class works only with --classroom.');
    expect(() => parseOptions(['--classroom', '--max-students', '0'])).toThrow(
      /^--max-students must be a whole number from 1 to 100000/,
    );
    expect(() => parseOptions(['--classroom', '--data', ' '])).toThrow('--data needs a folder');
  });

  it('documents every classroom flag in --help', () => {
    for (const flag of [
      '--classroom',
      '--data <folder>',
      '--new-class',
      '--class-name <name>',
      '--max-students <n>',
    ]) {
      expect(HELP).toContain(flag);
    }
  });
});

describe('the class folder', () => {
  it('defaults to the user data folder, never the repository', () => {
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    expect(defaultDataFolder().startsWith(repo)).toBe(false);
    expect(defaultDataFolder()).toMatch(/websocket-lab.classroom$/);
  });

  it('creates a class with a code, a token and a secret, private to the user, and resumes it', () => {
    const data = temp();
    const created = openClassFolder({ data, newClass: false, name: 'Year 12' });
    expect(created.resumed).toBe(false);
    expect(isJoinCode(created.file.code)).toBe(true);
    expect(Buffer.from(created.file.teacherToken, 'base64url')).toHaveLength(32);
    expect(Buffer.from(created.file.secret, 'base64url')).toHaveLength(32);
    expect(statSync(join(created.folder, 'class.json')).mode & 0o777).toBe(0o600);
    expect(statSync(created.folder).mode & 0o777).toBe(0o700);
    const resumed = openClassFolder({ data, newClass: false });
    expect(resumed).toMatchObject({ resumed: true, folder: created.folder, file: created.file });
    const renamed = openClassFolder({ data, newClass: false, name: 'Year 13' });
    expect(renamed.file).toEqual({ ...created.file, name: 'Year 13' });
  });

  it('starts a new class with --new-class and keeps the old one on disk', () => {
    const data = temp();
    const first = openClassFolder({ data, newClass: false });
    writeFileSync(first.logPath, 'kept\n');
    const second = openClassFolder({ data, newClass: true });
    expect(second.folder).not.toBe(first.folder);
    expect(second.file.teacherToken).not.toBe(first.file.teacherToken);
    expect(readFileSync(first.logPath, 'utf8')).toBe('kept\n');
    expect(readdirSync(data).sort()).toHaveLength(3);
    expect(openClassFolder({ data, newClass: false }).folder).toBe(second.folder);
  });

  it('says which file is damaged and how to go on, rather than start half a class', () => {
    const data = temp();
    const created = openClassFolder({ data, newClass: false });
    writeFileSync(
      join(created.folder, 'class.json'),
      '{"format":"websocket-lab-class","version":1,"name":"x","code":"000000"}',
    );
    expect(() => openClassFolder({ data, newClass: false })).toThrow(
      /class\.json is damaged: "code" is not a join code/,
    );
    writeFileSync(join(data, 'current'), '../../etc\n');
    expect(() => openClassFolder({ data, newClass: false })).toThrow(
      /does not name a class folder; start a new class with --new-class/,
    );
    expect(() => openClassFolder({ data, newClass: true, name: 'a\u0007b' })).toThrow(
      /^--class-name: /,
    );
    expect(existsSync(created.folder)).toBe(true);
  });
});
