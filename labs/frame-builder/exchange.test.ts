/**
 * What the builder concludes from a server's bytes when the upgrade itself goes wrong or the
 * server stays silent. (The usual trips, echo, pong and 1002, run against a real lab server in
 * send.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frame-encoder.ts';
import { Exchange } from './exchange.ts';

const ascii = (text: string) => new TextEncoder().encode(text);
const hello = encodeFrame({ opcode: 1, payload: 'Hello', maskingKey: Uint8Array.of(1, 2, 3, 4) });

describe('the builder’s exchange', () => {
  it('sends an upgrade request for /echo with a fresh key (RFC 6455 §4.1)', () => {
    const request = new TextDecoder().decode(new Exchange('127.0.0.1:6455', hello).request());
    expect(request).toMatch(/^GET \/echo\?builder=1 HTTP\/1\.1\r\n/);
    expect(request).toContain('Host: 127.0.0.1:6455\r\n');
    expect(request).toMatch(/Sec-WebSocket-Key: [A-Za-z0-9+/]{22}==\r\n/);
    expect(request.endsWith('\r\n\r\n')).toBe(true);
  });

  it('reports a refused upgrade with its status', () => {
    const exchange = new Exchange('127.0.0.1:6455', hello);
    expect(
      exchange.receive(ascii('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n')),
    ).toBe('refused');
    expect(exchange.outcome()).toMatchObject({
      kind: 'refused',
      summary: 'The lab server refused the upgrade: 426 Upgrade Required.',
    });
  });

  it('reads frames that arrive in the same chunk as the 101', () => {
    const exchange = new Exchange('127.0.0.1:6455', hello);
    const head = ascii(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    const echo = encodeFrame({ opcode: 1, payload: 'Hello' });
    const chunk = new Uint8Array(head.length + echo.length);
    chunk.set(head);
    chunk.set(echo, head.length);
    expect(exchange.receive(chunk)).toBe('open');
    expect(exchange.outcome().kind).toBe('echo');
  });

  it('explains silence from the frame that was sent: an unfinished message waits (RFC 6455 §5.4)', () => {
    const fragment = encodeFrame({ opcode: 1, fin: false, payload: 'Hel', mask: true });
    const exchange = new Exchange('127.0.0.1:6455', fragment);
    exchange.receive(ascii('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    expect(exchange.outcome().kind).toBe('pending');
    exchange.ended();
    const outcome = exchange.outcome();
    expect(outcome.kind).toBe('silent');
    expect(outcome.summary).toContain('FIN is 0, so your message is not finished');
  });

  it('a pong needs no answer (RFC 6455 §5.5.3)', () => {
    const pong = encodeFrame({ opcode: 0xa, payload: 'x', mask: true });
    const exchange = new Exchange('127.0.0.1:6455', pong);
    exchange.receive(ascii('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    expect(exchange.outcome().summary).toContain('a pong is a one-way heartbeat');
  });
});
