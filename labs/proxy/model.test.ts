import { describe, expect, it } from 'vitest';
import type { Trace, TracePhase } from '../../protocol/trace.ts';
import { newRun, reduce, startRun, type TraceRun } from '../trace/model.ts';
import {
  CELLS,
  cellKey,
  cellLabel,
  EXPECTED,
  emptyGrid,
  matchesExpectation,
  reasonOf,
  tally,
  verdictOf,
} from './model.ts';

const phase = (name: TracePhase['name'], start: number, end: number, detail = ''): TracePhase => ({
  name,
  start,
  end,
  detail,
});

function finished(
  via: 'direct' | 'connect' | 'aware' | 'naive',
  scheme: 'ws' | 'wss',
  trace: Partial<Trace>,
): TraceRun {
  return reduce(startRun(newRun(scheme, via)), {
    type: 'done',
    trace: { v: 1, url: `${scheme}://127.0.0.1:1/echo`, via, ok: true, phases: [], ...trace },
  });
}

describe('the proxy grid', () => {
  it('has one cell per proxy mode and scheme: 4 × 2', () => {
    expect(CELLS).toHaveLength(8);
    const grid = emptyGrid();
    expect(Object.keys(grid).sort()).toEqual(CELLS.map((c) => cellKey(c.via, c.scheme)).sort());
    expect(tally(grid)).toBe('0 passed, 0 failed, 8 not run.');
  });

  it('teaches that only ws:// through the naive forwarder fails (RFC 9110 §7.6.1)', () => {
    const failing = CELLS.filter((c) => !EXPECTED[c.via][c.scheme]);
    expect(failing).toEqual([{ via: 'naive', scheme: 'ws' }]);
  });
});

describe('a cell’s verdict and reason come from the trace', () => {
  const naive = finished('naive', 'ws', {
    ok: false,
    phases: [
      phase('dns', 0, 0.1),
      phase('tcp', 0.1, 0.5),
      phase(
        'proxy',
        0.5,
        0.6,
        'forwarded GET http://127.0.0.1:1/echo; dropped Connection, Upgrade',
      ),
      phase('request', 0.6, 0.7),
      phase('response', 0.7, 2.5, '400 Bad Request'),
    ],
    failure: {
      phase: 'response',
      status: 400,
      explanation: 'The server answered 400: the request reached it without Upgrade: websocket.',
    },
  });

  it('fails with the failed phase and status, and gives what the proxy did and the answer', () => {
    expect(verdictOf(naive)).toBe('fail');
    expect(cellLabel(naive)).toBe('fails at response received (400)');
    expect(reasonOf(naive)).toEqual({
      proxy: 'forwarded GET http://127.0.0.1:1/echo; dropped Connection, Upgrade',
      answer: 'The server answered 400: the request reached it without Upgrade: websocket.',
    });
    expect(matchesExpectation(naive)).toBe(true);
  });

  it('passes with the time to the 101 and the echo', () => {
    const tunnel = finished('connect', 'wss', {
      phases: [
        phase('proxy', 0.2, 0.4, 'CONNECT 127.0.0.1:2 HTTP/1.1 → 200'),
        phase('response', 3, 4.25, '101 Switching Protocols'),
        phase('message-echoed', 4.3, 4.5, '"hello"'),
      ],
    });
    expect(verdictOf(tunnel)).toBe('pass');
    expect(cellLabel(tunnel)).toBe('passes: 101 after 4.25 ms');
    expect(reasonOf(tunnel)).toEqual({
      proxy: 'CONNECT 127.0.0.1:2 HTTP/1.1 → 200',
      answer: '101 Switching Protocols The message came back: "hello"',
    });
    expect(matchesExpectation(tunnel)).toBe(true);
  });

  it('flags a cell that does not behave as the chapter says', () => {
    const surprising = finished('naive', 'ws', { ok: true, phases: [] });
    expect(matchesExpectation(surprising)).toBe(false);
    expect(matchesExpectation(newRun('ws', 'naive'))).toBeNull();
  });

  it('says why a refused or lost cell has no verdict', () => {
    const refused = reduce(startRun(newRun('ws', 'aware')), {
      type: 'refused',
      reason: 'the proxies are off',
    });
    expect(verdictOf(refused)).toBe('refused');
    expect(reasonOf(refused).answer).toBe('The lab server refused: the proxies are off');
    const grid = {
      ...emptyGrid(),
      [cellKey('naive', 'ws')]: naive,
      [cellKey('aware', 'ws')]: refused,
    };
    expect(tally(grid)).toBe('0 passed, 1 failed, 1 refused, 6 not run.');
  });
});
