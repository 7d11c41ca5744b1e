import { describe, expect, it } from 'vitest';
import { STAGES } from '../../lab-server/check/stages.ts';
import { INITIAL, readUrl, reduce, STAGE_TITLES, statusLabel, wireText } from './model.ts';

describe('the URL the page sends to /check', () => {
  it('accepts ws and wss URLs on loopback', () => {
    expect(readUrl(' ws://127.0.0.1:8080/chat ')).toEqual({ url: 'ws://127.0.0.1:8080/chat' });
    expect(readUrl('wss://localhost:8443')).toEqual({ url: 'wss://localhost:8443/' });
    expect(readUrl('ws://[::1]:9000/')).toEqual({ url: 'ws://[::1]:9000/' });
  });

  it('explains an http URL, another scheme, garbage and an empty field', () => {
    expect(readUrl('http://127.0.0.1:8080/x')).toEqual({
      error: expect.stringContaining('Use ws://127.0.0.1:8080/x'),
    });
    expect(readUrl('ftp://127.0.0.1/')).toEqual({
      error: expect.stringContaining('ws:// or wss://'),
    });
    expect(readUrl('<script>')).toEqual({ error: expect.stringContaining('is not a URL') });
    expect(readUrl('  ')).toEqual({ error: expect.stringContaining('Type the URL') });
  });

  it('refuses hosts other than this machine, pointing at the command line', () => {
    for (const url of [
      'ws://example.com/',
      'ws://10.0.0.1:8080/',
      'ws://localhost.evil.example/',
      'ws://127.0.0.1.nip.io/',
    ]) {
      expect(readUrl(url)).toEqual({ error: expect.stringContaining('pnpm lab check') });
    }
  });
});

describe('the state the page draws from /check messages', () => {
  const started = {
    type: 'started',
    url: 'ws://127.0.0.1:9/',
    stages: [
      { n: 1, id: 'handshake', title: 'Opening handshake', checks: 5 },
      { n: 2, id: 'echo-text', title: 'Echo', checks: 3 },
    ],
  };

  it('lists the stages as waiting, then running, then with their result', () => {
    let state = reduce(INITIAL, started);
    expect(state.phase).toBe('running');
    expect(state.stages.map((s) => s.status)).toEqual(['waiting', 'waiting']);
    state = reduce(state, { type: 'progress', event: { type: 'stage-start', n: 1 } });
    expect(state.stages[0]?.status).toBe('running');
    state = reduce(state, {
      type: 'progress',
      event: {
        type: 'stage-end',
        stage: {
          n: 1,
          title: 'Opening handshake',
          status: 'pass',
          checks: Array(5).fill({ status: 'pass' }),
        },
      },
    });
    expect(state.stages[0]).toMatchObject({ status: 'pass', passed: 5 });
    expect(statusLabel(state.stages[0] as never)).toBe('passed (5 checks)');
  });

  it('shows the failure, its wire text and the verdict from the report', () => {
    const report = {
      type: 'report',
      report: {
        url: 'ws://127.0.0.1:9/',
        ok: false,
        stages: [
          { n: 1, title: 'Opening handshake', status: 'pass', checks: [{ status: 'pass' }] },
          {
            n: 2,
            title: 'Echo',
            status: 'fail',
            checks: [{ status: 'pass' }, { status: 'fail', title: 'echoes text' }],
          },
        ],
        failure: {
          stage: 2,
          check: 'short-text',
          checkTitle: 'echoes text',
          rule: 'server-frame-masked',
          section: 'RFC 6455 §5.1',
          explanation: 'masked',
          hint: 'do not',
        },
      },
      text: [
        '✗ 2. Echo',
        '',
        '  What crossed the wire in this check',
        '  S→C text frame',
        '    0000  81 8f',
        '',
        'FAIL at stage 2',
      ],
    };
    const state = reduce(reduce(INITIAL, started), report);
    expect(state.phase).toBe('done');
    expect(state.ok).toBe(false);
    expect(state.failure).toMatchObject({ rule: 'server-frame-masked', section: 'RFC 6455 §5.1' });
    expect(state.message).toBe('Failed at stage 2: echoes text.');
    expect(statusLabel(state.stages[1] as never)).toBe(
      'failed: echoes text (1 of 2 checks passed before it)',
    );
    expect(wireText(state.text)).toBe('S→C text frame\n  0000  81 8f');
  });

  it('shows a refusal, and ignores messages of the wrong shape', () => {
    const refused = reduce(INITIAL, { type: 'refused', reason: 'not loopback' });
    expect(refused).toMatchObject({ phase: 'refused', message: 'not loopback' });
    for (const junk of [
      null,
      42,
      'x',
      [],
      { type: 'progress' },
      { type: 'nope' },
      { type: 'report', report: 5 },
    ]) {
      expect(reduce(refused, junk)).toBe(refused);
    }
  });

  it('offers the same stage titles as the checker itself', () => {
    expect(STAGE_TITLES).toEqual(STAGES.map((stage) => stage.title));
  });
});
