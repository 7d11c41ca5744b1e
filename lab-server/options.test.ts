import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_LIMITS } from './limits.ts';
import { DEFAULT_HOST, DEFAULT_PORT, HELP, parseBytes, parseOptions } from './options.ts';
import { startLabServer } from './server.ts';

describe('lab server options', () => {
  it('defaults to loopback, the documented port, pretty output and the default limits', () => {
    expect(parseOptions([])).toEqual({
      host: DEFAULT_HOST,
      port: DEFAULT_PORT,
      build: true,
      help: false,
      deflate: false,
      origins: [],
      output: 'pretty',
      color: true,
      limits: {
        maxPayload: DEFAULT_LIMITS.maxPayload,
        maxConnections: DEFAULT_LIMITS.maxConnections,
        handshakeTimeoutMs: DEFAULT_LIMITS.handshakeTimeoutMs,
        idleTimeoutMs: DEFAULT_LIMITS.idleTimeoutMs,
      },
      classroom: null,
    });
    expect(DEFAULT_LIMITS.maxPayload).toBe(1024 * 1024);
  });

  it('reads every flag', () => {
    const options = parseOptions([
      '--port=0',
      '--host',
      '0.0.0.0',
      '--deflate',
      '--origin',
      'http://192.168.1.20:6455',
      '--no-build',
      '--json',
      '--no-color',
      '--max-payload',
      '64KiB',
      '--max-connections',
      '50',
      '--handshake-timeout',
      '2.5',
      '--idle-timeout',
      '30',
    ]);
    expect(options).toEqual({
      host: '0.0.0.0',
      port: 0,
      build: false,
      help: false,
      deflate: true,
      origins: ['http://192.168.1.20:6455'],
      output: 'json',
      color: false,
      limits: {
        maxPayload: 65536,
        maxConnections: 50,
        handshakeTimeoutMs: 2500,
        idleTimeoutMs: 30_000,
      },
      classroom: null,
    });
    expect(parseOptions(['--quiet']).output).toBe('quiet');
    expect(parseOptions(['-h']).help).toBe(true);
  });

  it('rejects a port that is not a whole number from 0 to 65535, saying why', () => {
    for (const port of ['abc', '70000', '', '-1', '1.5', '0x10']) {
      expect(() => parseOptions([`--port=${port}`]), port).toThrow(
        /^--port must be a whole number from 0 to 65535/,
      );
    }
  });

  it('rejects unknown flags, missing values and stray arguments with a short message', () => {
    expect(() => parseOptions(['--nope'])).toThrow(/^Unknown option --nope\.$/);
    expect(() => parseOptions(['--port'])).toThrow(/^--port needs a value\.$/);
    expect(() => parseOptions(['--port', '-1'])).toThrow(
      /^--port needs a value; .* --port=<value>/,
    );
    expect(() => parseOptions(['--deflate=yes'])).toThrow(/^--deflate takes no value\.$/);
    expect(() => parseOptions(['6455'])).toThrow(/^Unexpected argument 6455/);
    expect(() => parseOptions(['--host', ' '])).toThrow(/^--host needs an address/);
  });

  it('refuses --json and --quiet together', () => {
    expect(() => parseOptions(['--json', '--quiet'])).toThrow(/cannot be used together/);
  });

  it('takes --origin more than once, normalised to what browsers send (RFC 6454 §6.2)', () => {
    expect(
      parseOptions([
        '--origin',
        'http://192.168.1.20:6455/',
        '--origin',
        'HTTPS://Lab.Example',
        '--origin',
        'http://lab.example:80',
        '--origin',
        'https://lab.example',
      ]).origins,
    ).toEqual(['http://192.168.1.20:6455', 'https://lab.example', 'http://lab.example']);
  });

  it('rejects an --origin that no browser would send', () => {
    for (const origin of ['null', 'localhost:4321', 'ftp://example.com', 'file:///tmp', '*']) {
      expect(() => parseOptions(['--origin', origin]), origin).toThrow(
        /^--origin must be an http or https origin/,
      );
    }
    expect(() => parseOptions(['--origin', 'http://example.com/page'])).toThrow(
      /without path, query or user: http:\/\/example\.com rather than/,
    );
    expect(() => parseOptions(['--origin', 'http://user@example.com'])).toThrow(/without path/);
  });

  it('reads --max-payload in bytes, KiB, MiB or GiB, from 1 byte to 1GiB', () => {
    expect(parseBytes('125')).toBe(125);
    expect(parseBytes('64KiB')).toBe(65536);
    expect(parseBytes('64k')).toBe(65536);
    expect(parseBytes('16 MiB')).toBe(16 * 1024 * 1024);
    expect(parseBytes('1GiB')).toBe(1024 ** 3);
    for (const bad of ['0', '-1', '2GiB', 'lots', '1.5MiB', '10 parsecs', '']) {
      expect(() => parseBytes(bad), bad).toThrow(/^--max-payload must be a number of bytes/);
    }
  });

  it('rejects a connection cap that is not a whole number from 1 up', () => {
    for (const bad of ['0', '1.5', 'many', '-3', '2000000']) {
      expect(() => parseOptions([`--max-connections=${bad}`]), bad).toThrow(
        /^--max-connections must be a whole number from 1/,
      );
    }
  });

  it('reads timeouts in seconds and rejects zero, negative or absurd ones', () => {
    expect(parseOptions(['--handshake-timeout', '0.5']).limits.handshakeTimeoutMs).toBe(500);
    expect(parseOptions(['--idle-timeout', '86400']).limits.idleTimeoutMs).toBe(86_400_000);
    for (const bad of ['0', '-1', 'soon', '1e3', '3601']) {
      expect(() => parseOptions([`--handshake-timeout=${bad}`]), bad).toThrow(
        /^--handshake-timeout must be a number of seconds above 0, at most 3600/,
      );
    }
    expect(() => parseOptions(['--idle-timeout', '90000'])).toThrow(
      /^--idle-timeout must be a number of seconds above 0, at most 86400/,
    );
  });

  it('documents every flag with its default in --help', () => {
    for (const flag of [
      '--port <n>',
      '--host <address>',
      '--origin <origin>',
      '--deflate',
      '--no-build',
      '--json',
      '--quiet',
      '--no-color',
      '--max-payload <bytes>',
      '--max-connections <n>',
      '--handshake-timeout <s>',
      '--idle-timeout <s>',
      '--help',
    ]) {
      expect(HELP).toContain(flag);
    }
    for (const fallback of [
      '(default 6455',
      '(default 127.0.0.1',
      '(default 1MiB',
      '(default 2048)',
      '(default 10)',
      '(default 600)',
    ]) {
      expect(HELP).toContain(fallback);
    }
    expect(Math.max(...HELP.split('\n').map((line) => line.length))).toBeLessThanOrEqual(100);
  });

  it('hands --max-payload to the server, which closes a bigger message with 1009 (RFC 6455 §7.4.1)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wslab-options-'));
    mkdirSync(join(root, 'dist'));
    const options = parseOptions(['--port', '0', '--max-payload', '16']);
    const lab = await startLabServer({
      host: options.host,
      port: options.port,
      root,
      limits: options.limits,
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${lab.port}/echo`);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send('x'.repeat(17));
      const code = await new Promise((resolve) => ws.once('close', resolve));
      expect(code).toBe(1009);
    } finally {
      await lab.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
