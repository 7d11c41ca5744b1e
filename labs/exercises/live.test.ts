import { describe, expect, it } from 'vitest';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import { LiveCollector, readObserveMessage } from './live.ts';

const ME = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156';
let seq = 0;

function base(conn: number) {
  return { v: ANNOTATION_SCHEMA_VERSION, seq: ++seq, t: seq, conn };
}

function opened(conn: number): LabEvent {
  return {
    ...base(conn),
    type: 'connection-opened',
    openedAt: seq,
    client: { address: '127.0.0.1', port: 40000 + conn },
    server: { address: '127.0.0.1', port: 6455 },
    tls: false,
  };
}

function request(conn: number, userAgent: string | null): LabEvent {
  return {
    ...base(conn),
    type: 'handshake-request',
    route: 'echo',
    streamOffset: 0,
    method: 'GET',
    target: '/echo',
    version: 'HTTP/1.1',
    headers: userAgent === null ? [] : [{ name: 'User-Agent', value: userAgent, byteOffset: 20 }],
    length: 200,
    findings: [],
    accept: null,
  };
}

function closed(conn: number): LabEvent {
  return { ...base(conn), type: 'socket-closed', bytesIn: 1, bytesOut: 1, error: null };
}

describe("collecting the learner's own events from /observe", () => {
  it('keeps connections from this browser opened after Start, from their first event', () => {
    const collector = new LiveCollector({ userAgent: ME });
    collector.snapshot({
      v: ANNOTATION_SCHEMA_VERSION,
      type: 'snapshot',
      seq: 0,
      connections: [
        { conn: 1, route: 'echo', client: { address: '127.0.0.1', port: 1 }, openedAt: 0 },
      ],
    });
    const events = [opened(2), request(2, ME), request(1, ME), closed(2)];
    expect(events.map((e) => collector.add(e))).toEqual([false, true, false, true]);
    expect(collector.events.map((e) => e.type)).toEqual([
      'connection-opened',
      'handshake-request',
      'socket-closed',
    ]);
    expect(collector.connections).toBe(1);
  });

  it('ignores other browsers and connections whose opening it did not see', () => {
    const collector = new LiveCollector({ userAgent: ME });
    collector.add(opened(3));
    collector.add(request(3, 'curl/8.5.0'));
    collector.add(closed(3));
    collector.add(request(4, ME));
    expect(collector.events).toEqual([]);
    expect(collector.claim(3)).toBe(false);
  });

  it('keeps a handshake with no User-Agent: typed by hand through /raw, or wscat on this machine', () => {
    const collector = new LiveCollector({ userAgent: ME });
    const first = opened(5);
    const typed = request(5, null);
    expect(collector.add(first)).toBe(false);
    expect(collector.add(typed)).toBe(true);
    expect(collector.events).toEqual([first, typed]);
    expect(collector.add(closed(5))).toBe(true);
  });

  it('adopts a connection a lab claims before its handshake is complete, with the events held until then', () => {
    const collector = new LiveCollector({ userAgent: ME });
    const first = opened(6);
    collector.add(first);
    expect(collector.events).toEqual([]);
    expect(collector.claim(6)).toBe(true);
    expect(collector.events).toEqual([first]);
    expect(collector.add(request(6, 'curl/8.5.0'))).toBe(true);
  });

  it('takes a claim that arrives before the connection opens', () => {
    const collector = new LiveCollector({ userAgent: ME });
    collector.claim(9);
    expect(collector.add(opened(9))).toBe(true);
  });

  it('counts events the server dropped for this observer', () => {
    const collector = new LiveCollector({ userAgent: ME });
    collector.add({ ...base(0), type: 'dropped', count: 12 });
    expect(collector.dropped).toBe(12);
  });

  it('reads /observe messages defensively', () => {
    expect(readObserveMessage('not json')).toBeNull();
    const v = ANNOTATION_SCHEMA_VERSION;
    expect(readObserveMessage(`{"v":${v + 1},"type":"frame","conn":1,"seq":1}`)).toBeNull();
    expect(readObserveMessage(`{"v":${v},"type":"frame","conn":"1","seq":1}`)).toBeNull();
    expect(readObserveMessage(`{"v":${v},"type":"snapshot","connections":"x"}`)).toBeNull();
    expect(readObserveMessage('null')).toBeNull();
    expect(readObserveMessage(`{"v":${v},"type":"snapshot","connections":[]}`)?.kind).toBe(
      'snapshot',
    );
    expect(readObserveMessage(JSON.stringify(opened(1)))?.kind).toBe('event');
  });
});
