/**
 * The builder's trip to a real lab server on an ephemeral port, through its real /raw relay and
 * /observe stream (with `ws` standing in for the browser's WebSocket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestLab, type TestLab } from '../../lab-server/test-support/lab.ts';
import { type BuilderInput, build, DEFAULT_INPUT } from './model.ts';
import { type SendResult, type SocketLike, sendFrame } from './send.ts';

let t: TestLab;
beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

function send(patch: Partial<BuilderInput>): Promise<SendResult> {
  const result = build({ ...DEFAULT_INPUT, ...patch });
  if (!result.ok) throw new Error('did not build');
  return sendFrame({
    origin: t.origin,
    frame: result.built.bytes,
    open: (url) => new WebSocket(url) as unknown as SocketLike,
    silenceMs: 600,
  }).done;
}

describe('sending a built frame through /raw', () => {
  it('a valid masked text frame comes back echoed, then the connection closes with 1000', async () => {
    const { outcome, error, conn, events } = await send({});
    expect(error).toBeNull();
    expect(conn).toBeGreaterThan(0);
    expect(outcome.kind).toBe('echo');
    expect(outcome.replies[0]?.hex).toBe('81 05 48 65 6c 6c 6f');
    expect(outcome.replies[0]?.heading).toBe('0x1 text, 5 bytes: "Hello"');
    const bye = outcome.replies.find((r) => r.afterGoodbye);
    expect(bye?.closeCode).toBe(1000);
    expect(events.some((e) => e.type === 'handshake-request' && e.conn === conn)).toBe(true);
    expect(outcome.annotations[0]?.text).toBe(
      'Frame from you: 81 85 37 fa 21 3d text, 5 bytes, no problems.',
    );
  });

  it('a reserved opcode makes the server close with 1002, explained (RFC 6455 §5.2, §7.4.1)', async () => {
    const { outcome } = await send({ opcode: 3 });
    expect(outcome.kind).toBe('closed');
    expect(outcome.closeCode).toBe(1002);
    expect(outcome.replies[0]?.hex).toBe(
      '88 11 03 ea 72 65 73 65 72 76 65 64 2d 6f 70 63 6f 64 65',
    );
    expect(outcome.summary).toContain('1002 Protocol Error');
    expect(outcome.summary).toContain('"reserved-opcode"');
    const problems = outcome.annotations.flatMap((a) => a.problems);
    expect(problems[0]?.text).toContain('Reserved non-control opcode 0x3');
    expect(problems[0]?.section).toBe('RFC 6455 §5.2');
  });

  it('an unmasked client frame is rejected with 1002 (RFC 6455 §5.1)', async () => {
    const { outcome } = await send({ mask: false });
    expect(outcome.closeCode).toBe(1002);
    expect(outcome.annotations.flatMap((a) => a.problems)[0]?.text).toContain('must mask');
  });

  it('a ping is answered with a pong carrying the same bytes (RFC 6455 §5.5.2)', async () => {
    const { outcome } = await send({ opcode: 9, payload: 'Hi' });
    expect(outcome.kind).toBe('pong');
    expect(outcome.replies[0]?.hex).toBe('8a 02 48 69');
  });

  it('a length that promises more than follows gets silence, then the server ends too', async () => {
    const { outcome } = await send({ declaredLength: '9' });
    expect(outcome.kind).toBe('silent');
    expect(outcome.replies).toEqual([]);
    expect(outcome.summary).toContain('announces 9 payload bytes and only 5 came');
    expect(outcome.summary).toContain('ended its side too');
  });

  it('a close frame is answered with the same code (RFC 6455 §5.5.1)', async () => {
    const { outcome } = await send({ opcode: 8, payloadFormat: 'hex', payload: '0f a0 62 79 65' });
    expect(outcome.kind).toBe('closed');
    expect(outcome.closeCode).toBe(4000);
    expect(outcome.summary).toContain('answered your close frame');
  });

  it('says when the lab server is not there', async () => {
    const result = build(DEFAULT_INPUT);
    if (!result.ok) throw new Error('did not build');
    const { error } = await sendFrame({
      origin: 'http://127.0.0.1:9',
      frame: result.built.bytes,
      open: (url) => {
        const ws = new WebSocket(url);
        ws.on('error', () => {});
        return ws as unknown as SocketLike;
      },
    }).done;
    expect(error).toContain('/raw relay');
  });
});
