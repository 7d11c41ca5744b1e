import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../lab-server/test-support/events.ts';
import { startTestLab, type TestLab } from '../../lab-server/test-support/lab.ts';
import { WsClient } from '../../lab-server/test-support/ws-client.ts';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import { tagOf } from '../shared/connection-events.ts';
import {
  buildTimeline,
  type ClosingChoice,
  DEFAULT_CHOICE,
  describeOutcome,
  FIRST_MESSAGE,
  planRun,
} from './model.ts';

const choice = (overrides: Partial<ClosingChoice>): ClosingChoice => ({
  ...DEFAULT_CHOICE,
  ...overrides,
});

describe('planRun', () => {
  it('leaves /echo as it is when the client closes first and the server sends the first FIN', () => {
    const plan = planRun(DEFAULT_CHOICE, 'ab12');
    expect(plan).toEqual({
      ok: true,
      path: '/echo?console=ab12',
      clientClose: { code: 1000, reason: 'done' },
      code: 1000,
      reason: 'done',
    });
    if (plan.ok) expect(tagOf(plan.path)).toBe('ab12');
  });

  it('asks /echo to close first, after the first echo, with the code and percent-encoded reason', () => {
    const plan = planRun(choice({ closeFrame: 'server', code: '4001', reason: 'bye & ciao' }), 't');
    expect(plan.ok && plan.path).toBe(
      '/echo?console=t&close=server&after=1&code=4001&reason=bye%20%26%20ciao',
    );
    expect(plan.ok && plan.clientClose).toBeNull();
  });

  it('asks /echo to wait for the client’s FIN with fin=client', () => {
    const plan = planRun(choice({ fin: 'client' }), 't');
    expect(plan.ok && plan.path).toBe('/echo?console=t&fin=client');
  });

  it('refuses a code that is not four digits, naming the field', () => {
    const plan = planRun(choice({ code: '10e2' }), 't');
    expect(plan).toMatchObject({ ok: false, field: 'code' });
    expect(!plan.ok && plan.message).toContain('RFC 6455 §7.4');
  });

  it('refuses codes a page may not pass to close() (only 1000 and 3000-4999)', () => {
    for (const code of ['1001', '1002', '1005', '2999', '5000']) {
      const plan = planRun(choice({ code }), 't');
      expect(plan.ok, code).toBe(false);
      expect(!plan.ok && plan.message).toContain('InvalidAccessError');
    }
    expect(planRun(choice({ code: '3000' }), 't').ok).toBe(true);
    expect(planRun(choice({ code: '4999' }), 't').ok).toBe(true);
  });

  it('refuses codes a server may not send: 1005, 1006, 1015 never on the wire, 1010 the client’s (RFC 6455 §7.4.1)', () => {
    for (const code of ['1005', '1006', '1015', '1010', '1004', '2000']) {
      const plan = planRun(choice({ closeFrame: 'server', code }), 't');
      expect(plan.ok, code).toBe(false);
    }
    for (const code of ['1001', '1002', '1003', '1007', '1008', '1009', '1011', '3000']) {
      expect(planRun(choice({ closeFrame: 'server', code }), 't').ok, code).toBe(true);
    }
  });

  it('refuses a reason over 123 bytes of UTF-8 (RFC 6455 §5.5), counting bytes, not characters', () => {
    expect(planRun(choice({ reason: 'é'.repeat(61) }), 't').ok).toBe(true);
    const plan = planRun(choice({ reason: `${'é'.repeat(61)}x2` }), 't');
    expect(plan).toMatchObject({ ok: false, field: 'reason' });
    expect(!plan.ok && plan.message).toContain('124 bytes');
  });
});

// ---- the timeline, from events a real lab server recorded -----------------------------------

let t: TestLab;
let log: EventLog;

beforeAll(async () => {
  t = await startTestLab();
  log = new EventLog(t.lab.registry);
});
afterAll(async () => {
  log.dispose();
  await t.close();
});

/** Runs the plan with a ws client as the page would: one message, then the page's close. */
async function run(c: ClosingChoice): Promise<LabEvent[]> {
  const plan = planRun(c, `m${Math.random().toString(16).slice(2, 8)}`);
  if (!plan.ok) throw new Error(plan.message);
  const client = await WsClient.open(`${t.ws}${plan.path}`);
  const conn = await log.connOf(client.localPort);
  client.ws.send(FIRST_MESSAGE);
  await client.next();
  if (plan.clientClose !== null) client.ws.close(plan.clientClose.code, plan.clientClose.reason);
  await client.closed;
  await log.waitFor('socket-closed', (e) => e.conn === conn, 5000);
  return log.forConn(conn);
}

describe('buildTimeline on a real connection', () => {
  it('client first, server FIN first: the rows in order, each in its sender’s lane', async () => {
    const timeline = buildTimeline(await run(DEFAULT_CHOICE));
    expect(timeline.done).toBe(true);
    expect(timeline.closeFrameFirst).toBe('client');
    expect(timeline.finFirst).toBe('server');
    expect(timeline.timeWait).toBe('server');
    expect(timeline.rows.map((r) => `${r.lane} ${r.kind}${r.first ? ' first' : ''}`)).toEqual([
      'server open',
      'client message',
      'server message',
      'client close-frame first',
      'server close-frame',
      'server fin first',
      'client fin',
      'server closed',
    ]);
    const close = timeline.rows.find((r) => r.kind === 'close-frame');
    expect(close?.text).toBe('close frame 1000 "done": starts the closing handshake');
    // Times start at the TCP accept and never go back.
    const times = timeline.rows.map((r) => r.t);
    expect(times[0]).toBeGreaterThanOrEqual(0);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(timeline.summary).toBe('client closed first (close frame), server sent the first FIN');
    expect(timeline.gaps.map((g) => g.label)).toEqual([
      'closing handshake (first close frame to the answer)',
      'handshake complete to the first FIN',
      'first FIN to the second',
    ]);
    expect(describeOutcome(timeline).join(' ')).toContain('as RFC 6455 §7.1.1 asks');
  });

  it('server first with fin=client: the server’s close frame and the client’s FIN come first', async () => {
    const timeline = buildTimeline(
      await run(choice({ closeFrame: 'server', fin: 'client', code: '4002', reason: 'later' })),
    );
    expect(timeline.closeFrameFirst).toBe('server');
    expect(timeline.finFirst).toBe('client');
    expect(timeline.timeWait).toBe('client');
    const first = timeline.rows.find((r) => r.kind === 'close-frame' && r.first);
    expect(first).toMatchObject({
      lane: 'server',
      text: 'close frame 4002 "later": starts the closing handshake',
    });
    expect(describeOutcome(timeline).join(' ')).toContain('TIME_WAIT');
  });

  it('is incomplete, and says nothing about firsts, before the close', () => {
    const opened: LabEvent = {
      v: ANNOTATION_SCHEMA_VERSION,
      seq: 1,
      t: 100,
      conn: 9,
      type: 'connection-opened',
      openedAt: 90,
      client: { address: '127.0.0.1', port: 1 },
      server: { address: '127.0.0.1', port: 2 },
      tls: false,
    };
    const timeline = buildTimeline([opened]);
    expect(timeline).toMatchObject({ conn: 9, done: false, closeFrameFirst: null, finFirst: null });
    expect(describeOutcome(timeline)).toEqual([]);
  });
});
