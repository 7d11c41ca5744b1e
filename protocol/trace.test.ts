import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseTraceRequest,
  phaseDuration,
  phaseRank,
  TRACE_MESSAGE_MAX,
  TRACE_PHASES,
  traceTotal,
} from './trace.ts';

describe('parseTraceRequest', () => {
  it('accepts the four fields of the /trace contract', () => {
    expect(parseTraceRequest('{"type":"trace","scheme":"ws","via":"direct"}')).toEqual({
      type: 'trace',
      scheme: 'ws',
      via: 'direct',
    });
    expect(
      parseTraceRequest('{"type":"trace","scheme":"wss","via":"naive","message":"hi"}'),
    ).toEqual({ type: 'trace', scheme: 'wss', via: 'naive', message: 'hi' });
  });

  it('refuses a field naming a target: the lab server traces only itself', () => {
    for (const key of ['host', 'port', 'url', 'target']) {
      const reason = parseTraceRequest(
        JSON.stringify({ type: 'trace', scheme: 'ws', via: 'direct', [key]: 'example.com' }),
      );
      expect(reason).toContain(`unknown field "${key}"`);
    }
  });

  it('refuses bad values with the rule', () => {
    expect(parseTraceRequest('nope')).toContain('not JSON');
    expect(parseTraceRequest('[]')).toContain('JSON object');
    expect(parseTraceRequest('{"type":"x","scheme":"ws","via":"direct"}')).toContain('"type"');
    expect(parseTraceRequest('{"type":"trace","scheme":"http","via":"direct"}')).toContain(
      '"scheme"',
    );
    expect(parseTraceRequest('{"type":"trace","scheme":"ws","via":"squid"}')).toContain('"via"');
    expect(
      parseTraceRequest('{"type":"trace","scheme":"ws","via":"direct","message":1}'),
    ).toContain('"message"');
    const long = JSON.stringify({
      type: 'trace',
      scheme: 'ws',
      via: 'direct',
      message: 'é'.repeat(TRACE_MESSAGE_MAX / 2 + 1),
    });
    expect(parseTraceRequest(long)).toContain(`${TRACE_MESSAGE_MAX} UTF-8 bytes`);
  });

  it('never throws and returns either a request or a reason, for any text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const result = parseTraceRequest(text);
        if (typeof result === 'string') expect(result.length).toBeGreaterThan(0);
        else expect(result.type).toBe('trace');
      }),
      { numRuns: 500 },
    );
  });
});

describe('phase helpers', () => {
  it('orders phases and measures them', () => {
    expect(phaseRank('dns')).toBe(0);
    expect(phaseRank('fin-sent')).toBe(TRACE_PHASES.length - 1);
    expect(phaseDuration({ name: 'tcp', start: 2, end: 5.5, detail: '' })).toBe(3.5);
    expect(
      traceTotal({
        phases: [
          { name: 'dns', start: 0, end: 1, detail: '' },
          { name: 'tcp', start: 1, end: 4, detail: '' },
        ],
      }),
    ).toBe(4);
  });
});
