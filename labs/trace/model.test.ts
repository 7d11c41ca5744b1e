import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Trace, TracePhase } from '../../protocol/trace.ts';
import { readLabInfo } from './client.ts';
import {
  axisEnd,
  bars,
  bytesAsText,
  compare,
  comparisonText,
  formatMs,
  loseRun,
  MIN_WIDTH,
  newRun,
  readPhase,
  reduce,
  reduceText,
  snapshotAt,
  startRun,
  summary,
  tickStep,
  ticks,
  traceRequest,
} from './model.ts';

const phase = (name: TracePhase['name'], start: number, end: number, detail = ''): TracePhase => ({
  name,
  start,
  end,
  detail,
});

const WS_PHASES: TracePhase[] = [
  phase('dns', 0, 0.05, '127.0.0.1 is an IP literal: no lookup'),
  phase('tcp', 0.05, 0.4, '127.0.0.1:50000 → 127.0.0.1:6455'),
  phase('request', 0.4, 0.5, 'GET /echo HTTP/1.1'),
  phase('response', 0.5, 1.9, '101 Switching Protocols'),
  phase('message-sent', 1.9, 2.0, '"hello"'),
  phase('message-echoed', 2.0, 2.6, '"hello"'),
];

const WSS_PHASES: TracePhase[] = [
  phase('dns', 0, 0.05),
  phase('tcp', 0.05, 0.4),
  phase('tls', 0.4, 6.4, 'TLSv1.3 TLS_AES_256_GCM_SHA384'),
  phase('request', 6.4, 6.5),
  phase('response', 6.5, 8.0, '101 Switching Protocols'),
];

function done(run: ReturnType<typeof newRun>, phases: TracePhase[], extra: Partial<Trace> = {}) {
  const trace: Trace = {
    v: 1,
    url: `${run.scheme}://127.0.0.1:1/echo`,
    via: 'direct',
    ok: true,
    phases,
    ...extra,
  };
  let r = startRun(run);
  for (const p of phases) r = reduce(r, { type: 'phase', phase: p });
  return reduce(r, { type: 'done', trace });
}

describe('folding /trace messages into a run (protocol/trace.ts contract)', () => {
  it('adds phases as they stream in, then takes the final trace from done', () => {
    let run = startRun(newRun('ws'));
    expect(run.status).toBe('running');
    run = reduce(run, { type: 'phase', phase: WS_PHASES[0] });
    run = reduceText(run, JSON.stringify({ type: 'phase', phase: WS_PHASES[1] }));
    expect(run.phases.map((p) => p.name)).toEqual(['dns', 'tcp']);
    run = done(newRun('ws'), WS_PHASES);
    expect(run.status).toBe('done');
    expect(run.trace?.ok).toBe(true);
    expect(run.phases).toHaveLength(WS_PHASES.length);
  });

  it('keeps the reason of a refusal', () => {
    const run = reduce(startRun(newRun('wss')), {
      type: 'refused',
      reason: 'this lab server has no TLS listener',
    });
    expect(run).toMatchObject({ status: 'refused', reason: 'this lab server has no TLS listener' });
    expect(summary(run)).toContain('refused the trace: this lab server has no TLS listener');
  });

  it('ignores hostile or malformed messages: not JSON, unknown phases, backwards times', () => {
    const start = startRun(newRun('ws'));
    expect(reduceText(start, 'not json')).toBe(start);
    expect(reduce(start, { type: 'phase', phase: { ...WS_PHASES[0], name: 'teleport' } })).toBe(
      start,
    );
    expect(reduce(start, { type: 'phase', phase: { ...WS_PHASES[0], start: 5, end: 1 } })).toBe(
      start,
    );
    expect(reduce(start, { type: 'phase', phase: { ...WS_PHASES[0], end: Number.NaN } })).toBe(
      start,
    );
    expect(reduce(start, { type: 'done', trace: { ok: 'yes' } })).toBe(start);
    expect(reduce(start, [1, 2])).toBe(start);
    expect(readPhase({ name: 'tcp', start: 0, end: 1, detail: 7, data: { a: 1, b: {} } })).toEqual({
      name: 'tcp',
      start: 0,
      end: 1,
      detail: '',
      data: { a: 1 },
    });
  });

  it('never changes a finished run, and a lost run says why', () => {
    const finished = done(newRun('ws'), WS_PHASES);
    expect(reduce(finished, { type: 'phase', phase: WS_PHASES[0] })).toBe(finished);
    expect(loseRun(finished, 'x')).toBe(finished);
    const lost = loseRun(startRun(newRun('ws')), 'the socket closed');
    expect(lost.status).toBe('lost');
    expect(summary(lost)).toBe('ws://: the socket closed');
  });

  it('never throws on any JSON the socket may carry', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const run = reduce(startRun(newRun('ws')), value);
        expect(['running', 'done', 'refused']).toContain(run.status);
        for (const p of run.phases) expect(p.end).toBeGreaterThanOrEqual(p.start);
      }),
    );
  });

  it('asks for a scheme and a proxy mode only, never a host', () => {
    expect(JSON.parse(traceRequest('wss', 'naive'))).toEqual({
      type: 'trace',
      scheme: 'wss',
      via: 'naive',
    });
  });
});

describe('the shared time axis', () => {
  it('picks round steps of 1, 2 or 5 times a power of ten', () => {
    expect(tickStep(10)).toBe(2);
    expect(tickStep(8)).toBe(2);
    expect(tickStep(2.6)).toBe(1);
    expect(tickStep(0.9)).toBe(0.2);
    expect(tickStep(240)).toBe(50);
    expect(ticks(8)).toEqual([0, 2, 4, 6, 8]);
    expect(ticks(0.6)).toEqual([0, 0.2, 0.4, 0.6]);
  });

  it('ends at the longest run rounded up to a tick, so ws:// and wss:// share it', () => {
    const ws = done(newRun('ws'), WS_PHASES);
    const wss = done(newRun('wss'), WSS_PHASES);
    expect(axisEnd([ws])).toBe(3);
    expect(axisEnd([ws, wss])).toBe(8);
    expect(axisEnd([newRun('ws')])).toBe(1);
  });

  it('places each bar at its start with a width proportional to its duration', () => {
    const wss = done(newRun('wss'), WSS_PHASES);
    const placed = bars(wss, 8);
    const tls = placed.find((b) => b.name === 'tls');
    expect(tls).toMatchObject({ left: 5, width: 75, duration: 6, label: 'TLS handshake' });
    // An instant phase is still visible.
    expect(placed[0]?.width).toBeGreaterThanOrEqual(MIN_WIDTH);
  });

  it('keeps every bar inside the axis for any ordered phases', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.double({ min: 0, max: 1e4, noNaN: true }),
            fc.double({ min: 0, max: 1e4, noNaN: true }),
          ),
          {
            minLength: 1,
            maxLength: 12,
          },
        ),
        (pairs) => {
          const phases = pairs.map(([a, b]) => phase('tcp', Math.min(a, b), Math.max(a, b)));
          const run = { phases, trace: null };
          const end = axisEnd([run]);
          for (const bar of bars(run, end)) {
            expect(bar.left).toBeGreaterThanOrEqual(0);
            expect(bar.left + bar.width).toBeLessThanOrEqual(100 + MIN_WIDTH);
            expect(bar.width).toBeGreaterThan(0);
          }
        },
      ),
    );
  });

  it('marks the failed phase of a failed trace', () => {
    const failed = done(newRun('ws', 'naive'), WS_PHASES.slice(0, 4), {
      ok: false,
      failure: { phase: 'response', explanation: 'the proxy dropped Upgrade', status: 400 },
    });
    expect(
      bars(failed, 3)
        .filter((b) => b.failed)
        .map((b) => b.name),
    ).toEqual(['response']);
    expect(summary(failed)).toBe('ws://: failed at response received after 1.9 ms (HTTP 400).');
    // A phase that never completed still gets a mark where the run stopped.
    const stopped = done(newRun('ws', 'naive'), WS_PHASES.slice(0, 3), {
      ok: false,
      failure: { phase: 'response', explanation: 'the proxy dropped Upgrade', status: 400 },
    });
    const marks = bars(stopped, 1);
    expect(marks).toHaveLength(4);
    expect(marks[3]).toMatchObject({
      name: 'response',
      failed: true,
      duration: 0,
      start: 0.5,
      detail: 'did not complete: the answer was HTTP 400',
    });
  });
});

describe('comparing ws:// and wss://', () => {
  it('reports the TLS handshake and the time to each 101', () => {
    const ws = done(newRun('ws'), WS_PHASES);
    const wss = done(newRun('wss'), WSS_PHASES);
    expect(compare(ws, wss)).toEqual({ tls: 6, wsToResponse: 1.9, wssToResponse: 8 });
    expect(compare(ws, newRun('wss'))).toBeNull();
  });
});

describe('slow-motion replay', () => {
  it('shows the phases begun by t, the running one cut at t, and the whole run at the end', () => {
    const wss = done(newRun('wss'), WSS_PHASES);
    const mid = snapshotAt(wss, 3);
    expect(mid.status).toBe('running');
    expect(mid.phases.map((p) => p.name)).toEqual(['dns', 'tcp', 'tls']);
    expect(mid.phases[2]?.end).toBe(3);
    expect(mid.trace).toBeNull();
    expect(snapshotAt(wss, 8)).toBe(wss);
  });
});

describe('formatting', () => {
  it('shows three significant figures in ms, seconds past 1000 ms', () => {
    expect(formatMs(0)).toBe('0 ms');
    expect(formatMs(0.04213)).toBe('0.0421 ms');
    expect(formatMs(1.2345)).toBe('1.23 ms');
    expect(formatMs(12.345)).toBe('12.3 ms');
    expect(formatMs(240.4)).toBe('240 ms');
    expect(formatMs(1500)).toBe('1.50 s');
    expect(formatMs(-1)).toBe('?');
  });
});

describe('/lab.json', () => {
  it('reads the wss:// port and the proxies, and null for what is off or malformed', () => {
    expect(
      readLabInfo({
        v: 1,
        ports: { http: 1, https: 2, proxies: { connect: 3, aware: 4, naive: 5 } },
      }),
    ).toEqual({ https: 2, proxies: { connect: 3, aware: 4, naive: 5 } });
    expect(readLabInfo({ v: 1, ports: { http: 1, https: null, proxies: null } })).toEqual({
      https: null,
      proxies: null,
    });
    expect(readLabInfo({ ports: { https: 70000, proxies: { connect: 'x' } } })).toEqual({
      https: null,
      proxies: null,
    });
    expect(readLabInfo('nope')).toBeNull();
  });
});

describe('the comparison in words', () => {
  it('says what TLS cost, and owns up when ws:// happened to be slower', () => {
    expect(comparisonText({ tls: 6, wsToResponse: 1.9, wssToResponse: 8 })).toBe(
      'wss:// spent 6 ms in its TLS handshake, a phase ws:// does not have, before it could send the upgrade request. Time to the 101: 1.9 ms for ws://, 8 ms for wss://. Every later message rides the open connection and pays none of this again.',
    );
    expect(comparisonText({ tls: 6, wsToResponse: 20, wssToResponse: 8 })).toMatch(
      /This time ws:\/\/ was slower overall/,
    );
  });
});

describe('the bytes of a failed answer, as text', () => {
  it('shows an HTTP head line by line and escapes what is not printable ASCII', () => {
    const hex = Array.from(
      new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'),
      (b) => b.toString(16).padStart(2, '0'),
    ).join('');
    expect(bytesAsText(hex)).toBe('HTTP/1.1 400 Bad Request\nConnection: close\n\n');
    expect(bytesAsText('00ff41')).toBe('\\x00\uFFFDA');
    expect(bytesAsText('c2a7')).toBe('§');
    expect(bytesAsText('4142', 1)).toBe('A…');
    expect(bytesAsText('zz')).toBeNull();
    expect(bytesAsText('abc')).toBeNull();
  });
});
