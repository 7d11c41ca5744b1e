import { describe, expect, it } from 'vitest';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import {
  browserMayClose,
  ConnectionEvents,
  describeState,
  echoPath,
  newTag,
  parseObserverMessage,
  planClose,
  planMessage,
  planPing,
  tagOf,
} from './model.ts';

let seq = 0;
const base = (conn: number) => ({ v: ANNOTATION_SCHEMA_VERSION, seq: ++seq, t: seq, conn });
const opened = (conn: number): LabEvent => ({
  ...base(conn),
  type: 'connection-opened',
  openedAt: 0,
  client: { address: '127.0.0.1', port: 50000 + conn },
  server: { address: '127.0.0.1', port: 6455 },
  tls: false,
});
const request = (conn: number, target: string): LabEvent => ({
  ...base(conn),
  type: 'handshake-request',
  route: 'echo',
  streamOffset: 0,
  method: 'GET',
  target,
  version: 'HTTP/1.1',
  headers: [],
  length: 100,
  findings: [],
  accept: null,
});
const fin = (conn: number): LabEvent => ({
  ...base(conn),
  type: 'fin',
  direction: 'client-to-server',
});
const seqs = (events: readonly LabEvent[]) => events.map((e) => e.seq);

describe('the console tag', () => {
  it('is 12 hex digits and travels in the /echo query string', () => {
    const tag = newTag();
    expect(tag).toMatch(/^[0-9a-f]{12}$/);
    expect(newTag()).not.toBe(tag);
    expect(tagOf(echoPath(tag))).toBe(tag);
    expect(tagOf('/echo')).toBeNull();
    expect(tagOf('/echo?other=1')).toBeNull();
  });
});

describe('ConnectionEvents: finding our connection among all', () => {
  it('takes the connection whose upgrade request carries our tag, with its earlier events', () => {
    const events = new ConnectionEvents('aaaa');
    const theirs = opened(7);
    const ours = opened(8);
    expect(events.fromWide(theirs)).toEqual([]);
    expect(events.fromWide(ours)).toEqual([]);
    expect(events.fromWide(request(7, '/echo?console=bbbb'))).toEqual([]);
    const mine = request(8, echoPath('aaaa'));
    expect(seqs(events.fromWide(mine))).toEqual([ours.seq, mine.seq]);
    expect(events.conn).toBe(8);
    expect(events.fromWide(fin(7))).toEqual([]);
    const next = fin(8);
    expect(events.fromWide(next)).toEqual([next]);
  });

  it('takes the connection number the /raw relay names', () => {
    const events = new ConnectionEvents('aaaa');
    const first = opened(3);
    events.fromWide(first);
    expect(events.identify(3)).toEqual([first]);
    expect(events.identify(4)).toEqual([]);
    expect(events.conn).toBe(3);
  });

  it('hands over to the narrow observer without losing or repeating an event', () => {
    const events = new ConnectionEvents('aaaa');
    const a = opened(5);
    const b = request(5, echoPath('aaaa'));
    events.fromWide(a);
    events.fromWide(b);
    const c = fin(5);
    const d = fin(5);
    const e = fin(5);
    // The narrow observer subscribes after c happened: it delivers d and e; the wide one c and d.
    events.narrowReady(c.seq);
    expect(events.narrowed).toBe(true);
    // The wide one still owes c, which it batches a few milliseconds late: it must stay open.
    expect(events.wideDone).toBe(false);
    expect(events.fromNarrow(d)).toEqual([]);
    expect(events.fromWide(c)).toEqual([c]);
    expect(events.wideDone).toBe(true);
    expect(events.fromWide(d)).toEqual([d]);
    expect(events.fromNarrow(e)).toEqual([]);
    expect(seqs(events.wideClosed())).toEqual([e.seq]);
    const f = fin(5);
    expect(events.fromNarrow(f)).toEqual([f]);
    expect(events.fromWide(fin(5))).toEqual([]);
  });

  it('shows a dropped marker and the event that shares its sequence number', () => {
    const events = new ConnectionEvents('aaaa');
    events.identify(4);
    const next = fin(4);
    const marker: LabEvent = { ...next, type: 'dropped', count: 3 };
    expect(events.fromWide(marker)).toEqual([marker]);
    expect(events.fromWide(next)).toEqual([next]);
  });

  it('ignores the narrow observer before the connection is known, and other connections', () => {
    const events = new ConnectionEvents('aaaa');
    expect(events.fromNarrow(fin(1))).toEqual([]);
    events.identify(2);
    events.narrowReady(0);
    events.wideClosed();
    expect(events.fromNarrow(fin(9))).toEqual([]);
  });

  it('keeps a bounded number of events per unknown connection', () => {
    const events = new ConnectionEvents('aaaa');
    for (let i = 0; i < 200; i++) events.fromWide(fin(1));
    for (let conn = 100; conn < 200; conn++) events.fromWide(fin(conn));
    expect(events.identify(1)).toEqual([]);
  });
});

describe('parseObserverMessage', () => {
  it('reads the current schema version and refuses anything else', () => {
    expect(
      parseObserverMessage(`{"v":${ANNOTATION_SCHEMA_VERSION},"type":"snapshot","connections":[]}`),
    ).toEqual({
      v: ANNOTATION_SCHEMA_VERSION,
      type: 'snapshot',
      connections: [],
    });
    expect(parseObserverMessage('{"v":1,"type":"frame"}')).toBeNull();
    expect(parseObserverMessage('{"v":2,"type":"frame"}')).toBeNull();
    expect(parseObserverMessage('{"v":4,"type":"frame"}')).toBeNull();
    expect(parseObserverMessage('not json')).toBeNull();
    expect(parseObserverMessage('null')).toBeNull();
    expect(parseObserverMessage(new ArrayBuffer(2))).toBeNull();
  });
});

describe('planMessage', () => {
  it('sends text as UTF-8 and names the 7-bit length form', () => {
    const plan = planMessage('Grüße', 'text');
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.payload.length).toBe(7);
    expect(plan.summary).toContain('text frame (opcode 0x1) with 7 bytes');
    expect(plan.summary).toContain('7-bit length');
  });

  it('names the 16-bit form for 300 bytes of hex', () => {
    const hex = Array.from({ length: 300 }, () => 'ab').join(' ');
    const plan = planMessage(hex, 'hex');
    expect(plan.ok && plan.payload.length).toBe(300);
    expect(plan.ok && plan.summary).toContain('binary frame (opcode 0x2) with 300 bytes');
    expect(plan.ok && plan.summary).toContain('16-bit extended length (Payload len 126)');
  });

  it('explains hex that is not hex', () => {
    const plan = planMessage('48 6g', 'hex');
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.errors[0]).toBe(
      "'g' at line 1, column 5 is not a hex digit (0-9, a-f).",
    );
  });
});

describe('planPing', () => {
  it("says the browser's WebSocket cannot send a ping", () => {
    const plan = planPing('hi', 'text', 'browser');
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.errors[0]).toContain('cannot send a ping');
  });

  it('allows at most 125 bytes, the limit of every control frame (RFC 6455 §5.5)', () => {
    expect(planPing('x'.repeat(125), 'text', 'frames').ok).toBe(true);
    const plan = planPing('x'.repeat(126), 'text', 'frames');
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.errors[0]).toContain('at most 125 bytes');
    expect(!plan.ok && plan.errors[0]).toContain('this one is 126');
    expect(!plan.ok && plan.errors[0]).toContain('RFC 6455 §5.5');
  });
});

describe('planClose', () => {
  it('accepts 1000 and 3000-4999 from the browser, as close() does', () => {
    expect([999, 1000, 1001, 2999, 3000, 4999, 5000].map(browserMayClose)).toEqual([
      false,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
    const plan = planClose('4000', 'bye', 'browser');
    expect(plan.ok).toBe(true);
    expect(plan.ok && plan.code).toBe(4000);
    expect(plan.ok && plan.summary).toContain('code 4000 (private use) and a 3-byte reason');
  });

  it("explains why the browser's close() refuses 1001", () => {
    const plan = planClose('1001', '', 'browser');
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.errors[0]).toContain('accepts only 1000 or 3000-4999');
    expect(!plan.ok && plan.errors[0]).toContain('RFC 6455 §7.4.2');
  });

  it('lets hand-built frames send any code, warning about codes never valid on the wire', () => {
    const ok = planClose('1001', '', 'frames');
    expect(ok.ok && ok.warning).toBeNull();
    const odd = planClose('1005', '', 'frames');
    expect(odd.ok).toBe(true);
    expect(odd.ok && odd.warning).toContain('must never be sent');
    expect(odd.ok && odd.warning).toContain('1002');
  });

  it('limits the reason to 123 bytes of UTF-8 (RFC 6455 §5.5.1)', () => {
    expect(planClose('1000', 'x'.repeat(123), 'browser').ok).toBe(true);
    const plan = planClose('1000', 'é'.repeat(62), 'browser');
    expect(plan.ok).toBe(false);
    expect(!plan.ok && plan.errors[0]).toContain('124 bytes');
  });

  it('sends an empty close frame without a code, and wants a code for a reason', () => {
    const empty = planClose('', '', 'browser');
    expect(empty.ok && empty.code).toBeNull();
    expect(planClose(' ', 'why', 'browser').ok).toBe(false);
    expect(planClose('abc', '', 'browser').ok).toBe(false);
    expect(planClose('70000', '', 'frames').ok).toBe(false);
  });
});

describe('describeState', () => {
  it('says how the connection closed', () => {
    expect(describeState({ kind: 'closed', code: 4000, reason: 'bye', clean: true })).toBe(
      'Closed with code 4000, reason "bye".',
    );
    expect(describeState({ kind: 'closed', code: 1006, reason: '', clean: false })).toContain(
      'without a close frame',
    );
    expect(describeState({ kind: 'open', url: 'ws://x/echo', conn: 4 })).toBe(
      'Open: ws://x/echo, connection #4 on the lab server.',
    );
  });
});
