import { describe, expect, it } from 'vitest';
import { decodeHttp2Frames, runExtendedConnect } from './extended-connect.ts';

describe('a WebSocket over HTTP/2 (RFC 8441), run on loopback with node:http2', () => {
  it('announces SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 before the client sends :protocol (RFC 8441 §3)', async () => {
    const trace = await runExtendedConnect();
    expect(trace.serverEnabledConnectProtocol).toBe(true);
    const settingsAt = trace.frames.findIndex(
      (f) =>
        f.direction === 'server-to-client' &&
        f.typeName === 'SETTINGS' &&
        f.settings?.some((s) => s.id === 8 && s.value === 1),
    );
    const requestAt = trace.frames.findIndex(
      (f) => f.direction === 'client-to-server' && f.typeName === 'HEADERS',
    );
    expect(settingsAt).toBeGreaterThanOrEqual(0);
    expect(requestAt).toBeGreaterThan(settingsAt);
    expect(trace.prefaceText).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  });

  it('sends CONNECT with :protocol websocket and no Sec-WebSocket-Key; the server answers 200 without Sec-WebSocket-Accept (RFC 8441 §4, §5)', async () => {
    const trace = await runExtendedConnect();
    const request = new Map(trace.requestHeaders);
    expect(request.get(':method')).toBe('CONNECT');
    expect(request.get(':protocol')).toBe('websocket');
    expect(request.get(':scheme')).toBe('http');
    expect(request.get(':path')).toBe('/echo');
    expect(request.get('sec-websocket-version')).toBe('13');
    expect(request.has('sec-websocket-key')).toBe(false);
    expect(request.has('upgrade')).toBe(false);
    const response = new Map(trace.responseHeaders);
    expect(response.get(':status')).toBe('200');
    expect(response.has('sec-websocket-accept')).toBe(false);
  });

  it('carries masked client frames and unmasked server frames as DATA on one stream, and closes the stream, not the connection (RFC 8441 §5)', async () => {
    const trace = await runExtendedConnect({ message: 'über h2' });
    expect(trace.echoed).toBe('über h2');
    const data = trace.frames.filter((f) => f.typeName === 'DATA');
    expect(new Set(data.map((f) => f.streamId))).toEqual(new Set([1]));
    const inner = data.flatMap((f) => (f.webSocket ?? []).map((w) => ({ ...w, d: f.direction })));
    expect(inner.map((w) => [w.d, w.opcodeName, w.mask])).toEqual([
      ['client-to-server', 'text', true],
      ['server-to-client', 'text', false],
      ['client-to-server', 'close', true],
      ['server-to-client', 'close', false],
    ]);
    expect(inner[0]?.text).toBe('über h2');
    // The server's close frame ends its half of the stream.
    const serverClose = data.find(
      (f) => f.webSocket?.[0]?.opcodeName === 'close' && f.direction === 'server-to-client',
    );
    expect(serverClose?.flagNames).toContain('END_STREAM');
  });

  it('decodes frame headers field by field and stops at a frame cut short (RFC 9113 §4.1)', () => {
    const bytes = new Uint8Array([
      // SETTINGS, 6 bytes: ENABLE_CONNECT_PROTOCOL = 1
      0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1,
      // WINDOW_UPDATE on stream 0, increment 65535
      0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
      // a DATA header announcing 10 bytes, only 2 present
      0, 0, 10, 0, 1, 0, 0, 0, 3, 1, 2,
    ]);
    const frames = decodeHttp2Frames(bytes, 'server-to-client', null);
    expect(frames).toHaveLength(2);
    expect(frames[0]?.settings).toEqual([
      { id: 8, name: 'SETTINGS_ENABLE_CONNECT_PROTOCOL', value: 1 },
    ]);
    expect(frames[1]?.typeName).toBe('WINDOW_UPDATE');
    expect(frames[1]?.windowIncrement).toBe(65535);
  });
});
