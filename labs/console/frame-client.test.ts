import { describe, expect, it } from 'vitest';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { parseFrames } from '../../protocol/frame-parser.ts';
import { FrameClient } from './frame-client.ts';

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const text = (s: string) => new TextEncoder().encode(s);
const response = (status = '101 Switching Protocols') =>
  text(
    `HTTP/1.1 ${status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n`,
  );

function client() {
  return new FrameClient({
    host: '127.0.0.1:6455',
    path: '/echo?console=ab',
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    maskingKey: () => KEY,
  });
}

describe('FrameClient', () => {
  it('writes the opening handshake of RFC 6455 §4.1 to the path it was given', () => {
    const request = new TextDecoder().decode(client().request());
    expect(request.startsWith('GET /echo?console=ab HTTP/1.1\r\nHost: 127.0.0.1:6455\r\n')).toBe(
      true,
    );
    expect(request).toContain('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n');
    expect(request).toContain('Sec-WebSocket-Version: 13\r\n');
    expect(request.endsWith('\r\n\r\n')).toBe(true);
  });

  it('opens on 101 and masks every frame it sends (RFC 6455 §5.1), as in §5.7', () => {
    const c = client();
    expect(c.receive(response()).events).toEqual([{ type: 'open' }]);
    expect(Array.from(c.text(text('Hello')))).toEqual([
      0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    const ping = parseFrames(c.ping(text('hi')), { direction: 'client-to-server' });
    expect(ping.frames[0]?.opcode).toBe(0x9);
    expect(ping.frames[0]?.mask).toBe(true);
    expect(ping.frames[0]?.problems).toEqual([]);
  });

  it('reports a refused upgrade', () => {
    const c = client();
    expect(c.receive(response('403 Forbidden')).events).toEqual([
      { type: 'refused', status: 403, reason: 'Forbidden' },
    ]);
    expect(c.state).toBe('closed');
  });

  it('answers a ping with a pong carrying the same payload (RFC 6455 §5.5.2)', () => {
    const c = client();
    c.receive(response());
    const step = c.receive(encodeFrame({ opcode: 0x9, payload: 'abc' }));
    const pong = parseFrames(step.send[0] ?? new Uint8Array(), { direction: 'client-to-server' });
    expect(pong.frames[0]?.opcode).toBe(0xa);
    expect(new TextDecoder().decode(pong.frames[0]?.unmaskedPreview)).toBe('abc');
  });

  it('answers the server’s close frame with the same code (RFC 6455 §5.5.1)', () => {
    const c = client();
    // The 101 and the first frame may arrive in one chunk.
    const close = encodeFrame({ opcode: 0x8, payload: closePayload(1001, 'bye') });
    const step = c.receive(Uint8Array.from([...response(), ...close]));
    expect(step.events).toEqual([{ type: 'open' }, { type: 'closed', code: 1001, reason: 'bye' }]);
    const reply = parseFrames(step.send[0] ?? new Uint8Array(), { direction: 'client-to-server' });
    expect(reply.frames[0]?.close?.code).toBe(1001);
    expect(c.ended()).toEqual([]);
  });

  it('does not answer a close it started, and reports 1006 when TCP ends first', () => {
    const c = client();
    c.receive(response());
    c.close(4000, 'done');
    expect(c.state).toBe('closing');
    const step = c.receive(encodeFrame({ opcode: 0x8, payload: closePayload(4000, 'done') }));
    expect(step.send).toEqual([]);
    expect(step.events).toEqual([{ type: 'closed', code: 4000, reason: 'done' }]);

    const other = client();
    other.receive(response());
    expect(other.ended()).toEqual([{ type: 'closed', code: 1006, reason: '' }]);
  });
});
