import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../protocol/annotations.ts';
import { Registry } from './registry.ts';
import { startLabServer } from './server.ts';
import { attachTerminal, wantsColor } from './terminal.ts';

/** A stream that keeps what it is given; `stall` makes it accept bytes without ever finishing. */
class Sink extends Writable {
  text = '';
  #stalled: (() => void)[] = [];
  stall = false;
  isTTY?: boolean;

  constructor(highWaterMark = 16 * 1024) {
    super({ highWaterMark, decodeStrings: false });
  }

  override _write(chunk: string, _encoding: string, done: () => void): void {
    this.text += chunk;
    if (this.stall) this.#stalled.push(done);
    else done();
  }

  /** The reader catches up: everything waiting completes, and 'drain' follows. */
  release(): void {
    this.stall = false;
    for (const done of this.#stalled.splice(0)) done();
  }
}

const fin = (registry: Registry, conn: number) =>
  registry.emit({ type: 'fin', conn, direction: 'client-to-server' });

describe('the terminal output', () => {
  it('writes each event as annotated text, plain when colour is off', () => {
    const registry = new Registry();
    const sink = new Sink();
    attachTerminal(registry, sink, { mode: 'pretty', color: false });
    fin(registry, 4);
    expect(sink.text).toBe(
      '[4] C→S FIN received: the client will send no more bytes (TCP half-close)\n',
    );
  });

  it('colours the text when asked', () => {
    const registry = new Registry();
    const sink = new Sink();
    attachTerminal(registry, sink, { mode: 'pretty', color: true });
    fin(registry, 4);
    expect(sink.text).toContain('\x1b[36mC→S\x1b[39m');
  });

  it('writes one JSON event per line in json mode, exactly as emitted', () => {
    const registry = new Registry();
    const sink = new Sink();
    attachTerminal(registry, sink, { mode: 'json', color: true });
    const events = [fin(registry, 1), fin(registry, 2)];
    const lines = sink.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line))).toEqual(events);
  });

  it('does not even subscribe in quiet mode, so the tap builds no events', () => {
    const registry = new Registry();
    attachTerminal(registry, new Sink(), { mode: 'quiet', color: false });
    expect(registry.listened).toBe(false);
  });

  it('drops events while the stream is full, then says how many were not shown', async () => {
    const registry = new Registry();
    const sink = new Sink(64);
    sink.stall = true;
    const terminal = attachTerminal(registry, sink, { mode: 'pretty', color: false });
    for (let i = 0; i < 1000; i++) fin(registry, 1);
    // Only what was written before the stream said "enough" is held, not 1000 events.
    expect(sink.writableLength).toBeLessThan(200);
    expect(terminal.dropped).toBe(999);
    sink.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.text).toContain('[*] 999 events not shown: this view could not keep up\n');
    fin(registry, 2);
    expect(
      sink.text.endsWith(
        '[2] C→S FIN received: the client will send no more bytes (TCP half-close)\n',
      ),
    ).toBe(true);
  });

  it('sends a dropped event in the schema when NDJSON falls behind', async () => {
    const registry = new Registry();
    const sink = new Sink(1);
    sink.stall = true;
    attachTerminal(registry, sink, { mode: 'json', color: false });
    for (let i = 0; i < 5; i++) fin(registry, 1);
    sink.release();
    await new Promise((resolve) => setImmediate(resolve));
    const events = sink.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as LabEvent);
    expect(events.map((e) => e.type)).toEqual(['fin', 'dropped']);
    expect(events[1]).toMatchObject({
      type: 'dropped',
      count: 4,
      seq: 5,
      v: ANNOTATION_SCHEMA_VERSION,
    });
  });

  it('stops writing, without throwing, when the reader goes away (EPIPE)', () => {
    const registry = new Registry();
    const sink = new Sink();
    attachTerminal(registry, sink, { mode: 'pretty', color: false });
    sink.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(registry.listened).toBe(false);
    expect(() => sink.emit('error', new Error('again'))).not.toThrow();
  });

  it('unsubscribes when disposed', () => {
    const registry = new Registry();
    const terminal = attachTerminal(registry, new Sink(), { mode: 'json', color: false });
    expect(registry.listened).toBe(true);
    terminal.dispose();
    expect(registry.listened).toBe(false);
  });
});

describe('colour', () => {
  it('is used only on a terminal, unless --no-color or NO_COLOR says no (no-color.org)', () => {
    expect(wantsColor({ isTTY: true }, {}, true)).toBe(true);
    expect(wantsColor({ isTTY: false }, {}, true)).toBe(false);
    expect(wantsColor({}, {}, true)).toBe(false);
    expect(wantsColor({ isTTY: true }, {}, false)).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' }, true)).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '' }, true)).toBe(true);
  });
});

describe('the terminal on a real lab server', () => {
  it('prints the handshake, both frames of an echo and the closing handshake as NDJSON', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wslab-terminal-'));
    mkdirSync(join(root, 'dist'));
    const lab = await startLabServer({ host: '127.0.0.1', port: 0, root });
    const sink = new Sink();
    const terminal = attachTerminal(lab.registry, sink, { mode: 'json', color: false });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${lab.port}/echo`);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send('Hello');
      await new Promise((resolve) => ws.once('message', resolve));
      ws.close(1000);
      await new Promise((resolve) => ws.once('close', resolve));
      const deadline = Date.now() + 2000;
      while (!sink.text.includes('"socket-closed"') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const events = sink.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as LabEvent);
      expect(events.map((e) => e.type)).toEqual([
        'connection-opened',
        'handshake-request',
        'handshake-response',
        'frame',
        'message',
        'frame',
        'message',
        'frame',
        'close-frame',
        'frame',
        'close-frame',
        'fin',
        'fin',
        'socket-closed',
      ]);
      const fins = events.filter((e) => e.type === 'fin').map((e) => e.direction);
      expect(fins.sort()).toEqual(['client-to-server', 'server-to-client']);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    } finally {
      terminal.dispose();
      await lab.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
