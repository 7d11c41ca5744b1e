import { describe, expect, it } from 'vitest';
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import {
  AnswerReader,
  buildRequest,
  dechunk,
  EXAMPLES,
  judge,
  type RequestChoices,
  RouterRun,
  takesUpgradePath,
} from './model.ts';

const ORIGIN = 'http://127.0.0.1:6455';
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (text: string) => new TextEncoder().encode(text);
const example = (id: string) =>
  (EXAMPLES.find((e) => e.id === id) as (typeof EXAMPLES)[number]).choices;

function answerOf(text: string) {
  const reader = new AnswerReader();
  reader.push(enc(text));
  reader.closed();
  const answer = reader.answer;
  if (answer === null) throw new Error('no answer');
  return answer;
}

describe('buildRequest', () => {
  it('writes an upgrade request with the lab server’s own Host and Origin', () => {
    const built = buildRequest(example('upgrade-echo'), ORIGIN, KEY);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.text).toBe(
      'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:6455\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:6455\r\nUser-Agent: websocket-lab-router\r\n\r\n',
    );
  });

  it('sends a foreign Host and Origin when asked', () => {
    const built = buildRequest(
      { ...example('upgrade-echo'), host: 'foreign', origin: 'foreign' },
      ORIGIN,
      KEY,
    );
    expect(built.ok && built.text).toContain('Host: evil.example\r\n');
    expect(built.ok && built.text).toContain('Origin: http://evil.example\r\n');
  });

  it('refuses a path without a leading slash (RFC 9112 §3.2.1)', () => {
    const built = buildRequest({ ...example('page'), path: 'echo' }, ORIGIN, KEY);
    expect(built.ok).toBe(false);
    if (!built.ok) expect(built.problem).toMatch(/start with "\/".*RFC 9112 §3\.2\.1/);
  });

  it('refuses a space or a control character in the path, naming it (RFC 9112 §3.2)', () => {
    const space = buildRequest({ ...example('page'), path: '/a b' }, ORIGIN, KEY);
    expect(!space.ok && space.problem).toMatch(/a space/);
    const crlf = buildRequest({ ...example('page'), path: '/a\r\nX: y' }, ORIGIN, KEY);
    expect(!crlf.ok && crlf.problem).toMatch(/U\+000D/);
    const long = buildRequest({ ...example('page'), path: `/${'a'.repeat(300)}` }, ORIGIN, KEY);
    expect(!long.ok && long.problem).toMatch(/301 characters/);
  });

  it('refuses a method that is not a token (RFC 9110 §9.1)', () => {
    const built = buildRequest({ ...example('page'), method: 'GE T' }, ORIGIN, KEY);
    expect(!built.ok && built.problem).toMatch(/not a token/);
  });
});

describe('takesUpgradePath', () => {
  it('needs both Upgrade and Connection: upgrade (RFC 9110 §7.8)', () => {
    expect(takesUpgradePath(example('upgrade-echo'))).toBe(true);
    expect(takesUpgradePath(example('no-connection'))).toBe(false);
    expect(takesUpgradePath(example('page'))).toBe(false);
  });
});

describe('reading the answer', () => {
  it('reads a head split over chunks, byte by byte', () => {
    const text =
      'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nnope.';
    const reader = new AnswerReader();
    for (const byte of enc(text)) reader.push(new Uint8Array([byte]));
    const answer = reader.answer;
    expect(answer?.head.status).toBe(404);
    expect(answer?.headText.startsWith('HTTP/1.1 404 Not Found\r\n')).toBe(true);
    expect(answer?.body).toBe('nope.');
    expect(answer?.complete).toBe(true);
  });

  it('is complete after a 101 without waiting for frames', () => {
    const reader = new AnswerReader();
    reader.push(enc('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi'));
    expect(reader.answer?.complete).toBe(true);
    expect(reader.answer?.body).toBe('');
  });

  it('decodes a chunked body and knows when the last chunk came (RFC 9112 §7.1)', () => {
    expect(dechunk(enc('5\r\nHello\r\n0\r\n\r\n'))).toEqual({ body: enc('Hello'), done: true });
    expect(dechunk(enc('5\r\nHel')).done).toBe(false);
    expect(dechunk(enc('5\r\nHello\r\n0\r\n')).done).toBe(false);
    expect(
      new TextDecoder().decode(dechunk(enc('3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')).body),
    ).toBe('abcde');
  });

  it('says why bytes that are not an HTTP response cannot be read', () => {
    const reader = new AnswerReader();
    reader.push(enc('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    expect(reader.answer).toBeNull();
    expect(reader.problem).toBeTruthy();
  });
});

function requestEvent(findings: unknown[] = []): LabEvent {
  return {
    v: 2,
    seq: 1,
    t: 0,
    conn: 7,
    type: 'handshake-request',
    route: 'echo',
    streamOffset: 0,
    method: 'GET',
    target: '/echo',
    version: 'HTTP/1.1',
    headers: [],
    length: 100,
    findings,
    accept: null,
  } as unknown as LabEvent;
}

describe('judge: which step answered, from the evidence', () => {
  const upgrade: RequestChoices = example('upgrade-echo');
  const plain: RequestChoices = example('page');

  it('a 101 is ws finishing the handshake, owned by the annotated route', () => {
    const verdict = judge(
      upgrade,
      answerOf('HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: abc=\r\n\r\n'),
      [requestEvent()],
    );
    expect(verdict).toMatchObject({ path: 'upgrade', step: 'websocket', route: 'echo' });
  });

  it('tells the two 426s apart by whether the tap saw a handshake', () => {
    const text =
      'HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nContent-Length: 2\r\n\r\nno';
    expect(judge(plain, answerOf(text), []).step).toBe('ws-path');
    expect(
      judge(upgrade, answerOf(text), [
        requestEvent([{ ok: false, explanation: 'version 8 is not spoken' }]),
      ]),
    ).toMatchObject({ step: 'rules' });
  });

  it('tells the Host check from the Origin check by the server’s own reason', () => {
    const host = answerOf('HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nHost "x" ');
    const origin = answerOf('HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nOrigin "x');
    expect(judge(plain, host, []).step).toBe('host');
    expect(judge(upgrade, origin, []).step).toBe('origin');
  });

  it('a 404 is the endpoint lookup on the upgrade path and the static site otherwise', () => {
    const answer = answerOf('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    expect(judge(upgrade, answer, []).step).toBe('endpoint');
    expect(judge(plain, answer, []).step).toBe('static');
  });

  it('a 400 with no body is the head parser, before any handler', () => {
    expect(
      judge(plain, answerOf('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), []).step,
    ).toBe('parse');
  });

  it('JSON is an HTTP endpoint of its own', () => {
    expect(
      judge(
        plain,
        answerOf(
          'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
        ),
        [],
      ).step,
    ).toBe('http-endpoint');
  });
});

describe('RouterRun', () => {
  it('waits for the observer before sending, ends politely after the answer', () => {
    const run = new RouterRun(enc('GET / HTTP/1.1\r\n\r\n'), () => new Uint8Array(4));
    expect(run.relayStatus('not json')).toEqual([]);
    expect(run.relayStatus('{"type":"connected","conn":5,"localPort":1}')).toEqual([
      { type: 'observe', conn: 5 },
    ]);
    const sent = run.observerReady();
    expect(sent[0]?.type).toBe('send');
    expect(run.observerReady()).toEqual([]);
    expect(run.relayBytes(enc('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab'))).toEqual([
      { type: 'update' },
    ]);
    expect(run.relayBytes(enc('cd'))[0]).toEqual({ type: 'end' });
    run.relayStatus('{"type":"closed","error":null}');
    expect(run.settled).toBe(false);
    run.event({
      v: ANNOTATION_SCHEMA_VERSION,
      seq: 9,
      t: 1,
      conn: 5,
      type: 'socket-closed',
      bytesIn: 1,
      bytesOut: 2,
      error: null,
    });
    expect(run.settled).toBe(true);
  });

  it('answers a 101 with a masked close frame (RFC 6455 §5.1, §5.5.1)', () => {
    const run = new RouterRun(
      enc('GET /echo HTTP/1.1\r\n\r\n'),
      () => new Uint8Array([1, 2, 3, 4]),
    );
    run.relayStatus('{"type":"connected","conn":5,"localPort":1}');
    run.observerReady();
    const actions = run.relayBytes(enc('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    const send = actions[0];
    expect(send?.type).toBe('send');
    if (send?.type === 'send') {
      expect(send.bytes[0]).toBe(0x88);
      expect((send.bytes[1] as number) & 0x80).toBe(0x80);
    }
  });

  it('ignores events of other connections', () => {
    const run = new RouterRun(enc('x'), () => new Uint8Array(4));
    run.relayStatus('{"type":"connected","conn":5,"localPort":1}');
    expect(
      run.event({
        v: ANNOTATION_SCHEMA_VERSION,
        seq: 1,
        t: 0,
        conn: 6,
        type: 'fin',
        direction: 'client-to-server',
      }),
    ).toEqual([]);
    expect(run.events).toHaveLength(0);
  });
});
