/**
 * A WebSocket over HTTP/2 with the extended CONNECT of RFC 8441, run for real on loopback with
 * Node's `node:http2`: a server that announces SETTINGS_ENABLE_CONNECT_PROTOCOL, a client that
 * waits for it, opens a stream with `:method: CONNECT` and `:protocol: websocket`, gets `:status:
 * 200`, sends one masked text frame and a close frame as DATA on that stream, and gets them back.
 *
 * Between the two sits a TCP relay that records every byte each way, and the HTTP/2 frames are
 * decoded from those bytes (RFC 9113 §4.1); the WebSocket frames inside the DATA frames are
 * decoded by protocol/'s parser. Chapter 11 renders the trace at build time, so what the page
 * shows is what this run put on the wire. `pnpm tsx lab-server/demos/extended-connect.ts` prints
 * it.
 */
import { once } from 'node:events';
import {
  type ClientHttp2Session,
  connect as connectHttp2,
  createServer as createHttp2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { type AddressInfo, connect as connectTcp, createServer as createTcpServer } from 'node:net';
import { closePayload, encodeFrame } from '../../protocol/frame-encoder.ts';
import { FrameParser, toHex } from '../../protocol/frame-parser.ts';
import type { Direction } from '../../protocol/types.ts';

/** RFC 9113 §6 frame types, and RFC 8441 §3's new setting. */
const FRAME_TYPES: Readonly<Record<number, string>> = {
  0: 'DATA',
  1: 'HEADERS',
  2: 'PRIORITY',
  3: 'RST_STREAM',
  4: 'SETTINGS',
  5: 'PUSH_PROMISE',
  6: 'PING',
  7: 'GOAWAY',
  8: 'WINDOW_UPDATE',
  9: 'CONTINUATION',
};

const SETTINGS: Readonly<Record<number, string>> = {
  1: 'SETTINGS_HEADER_TABLE_SIZE',
  2: 'SETTINGS_ENABLE_PUSH',
  3: 'SETTINGS_MAX_CONCURRENT_STREAMS',
  4: 'SETTINGS_INITIAL_WINDOW_SIZE',
  5: 'SETTINGS_MAX_FRAME_SIZE',
  6: 'SETTINGS_MAX_HEADER_LIST_SIZE',
  8: 'SETTINGS_ENABLE_CONNECT_PROTOCOL',
};

/** The flags each frame type defines (RFC 9113 §6.1-§6.10). */
function flagNames(type: number, flags: number): string[] {
  const names: string[] = [];
  const has = (bit: number, name: string) => {
    if ((flags & bit) !== 0) names.push(name);
  };
  if (type === 0x0) {
    has(0x1, 'END_STREAM');
    has(0x8, 'PADDED');
  } else if (type === 0x1) {
    has(0x1, 'END_STREAM');
    has(0x4, 'END_HEADERS');
    has(0x8, 'PADDED');
    has(0x20, 'PRIORITY');
  } else if (type === 0x4 || type === 0x6) {
    has(0x1, 'ACK');
  } else if (type === 0x9) {
    has(0x4, 'END_HEADERS');
  }
  return names;
}

/** One WebSocket frame found inside a DATA frame's payload. */
export interface InnerWebSocketFrame {
  readonly opcodeName: string;
  readonly fin: boolean;
  readonly mask: boolean;
  readonly payloadLength: number;
  readonly headerHex: string;
  /** The payload unmasked, as text for text frames, or the close code and reason. */
  readonly text?: string;
  readonly close?: { readonly code: number | null; readonly reason: string };
}

export interface Http2FrameRecord {
  readonly direction: Direction;
  /** Position of the frame's first byte in its direction's byte stream. */
  readonly offset: number;
  readonly length: number;
  readonly type: number;
  readonly typeName: string;
  readonly flags: number;
  readonly flagNames: readonly string[];
  readonly streamId: number;
  /** The 9-byte frame header exactly as it crossed the wire. */
  readonly headerHex: string;
  /** SETTINGS: each parameter (RFC 9113 §6.5.1). */
  readonly settings?: readonly {
    readonly id: number;
    readonly name: string;
    readonly value: number;
  }[];
  /** WINDOW_UPDATE: the increment. */
  readonly windowIncrement?: number;
  /** RST_STREAM and GOAWAY: the error code (RFC 9113 §7). */
  readonly errorCode?: number;
  /** DATA on the WebSocket stream: the WebSocket frames it carries. */
  readonly webSocket?: readonly InnerWebSocketFrame[];
}

export interface ExtendedConnectTrace {
  readonly nodeVersion: string;
  /** The client waited for this before sending CONNECT (RFC 8441 §3). */
  readonly serverEnabledConnectProtocol: boolean;
  /** The request's header fields as the server's HTTP/2 layer delivered them, in order. */
  readonly requestHeaders: readonly (readonly [string, string])[];
  /** The response's header fields as the client received them. */
  readonly responseHeaders: readonly (readonly [string, string])[];
  /** The 24 octets every HTTP/2 client connection begins with (RFC 9113 §3.4). */
  readonly prefaceText: string;
  readonly frames: readonly Http2FrameRecord[];
  readonly sent: string;
  readonly echoed: string | null;
}

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** Splits one direction's bytes into HTTP/2 frames (RFC 9113 §4.1: 24-bit length, type, flags, stream). */
export function decodeHttp2Frames(
  bytes: Uint8Array,
  direction: Direction,
  webSocketStream: number | null,
): Http2FrameRecord[] {
  const frames: Http2FrameRecord[] = [];
  let offset = direction === 'client-to-server' ? PREFACE.length : 0;
  const wsParser =
    webSocketStream === null
      ? null
      : new FrameParser({
          direction,
          previewLimit: Number.POSITIVE_INFINITY,
          continueAfterFailure: true,
        });
  while (offset + 9 <= bytes.length) {
    const at = (i: number) => bytes[offset + i] as number;
    const length = (at(0) << 16) | (at(1) << 8) | at(2);
    const type = at(3);
    const flags = at(4);
    const streamId = ((at(5) & 0x7f) << 24) | (at(6) << 16) | (at(7) << 8) | at(8);
    if (offset + 9 + length > bytes.length) break;
    const payload = bytes.subarray(offset + 9, offset + 9 + length);
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const record: {
      -readonly [K in keyof Http2FrameRecord]: Http2FrameRecord[K];
    } = {
      direction,
      offset,
      length,
      type,
      typeName: FRAME_TYPES[type] ?? `unknown (0x${type.toString(16)})`,
      flags,
      flagNames: flagNames(type, flags),
      streamId,
      headerHex: toHex(bytes.subarray(offset, offset + 9), ' '),
    };
    if (type === 0x4) {
      const settings: { id: number; name: string; value: number }[] = [];
      for (let i = 0; i + 6 <= length; i += 6) {
        const id = view.getUint16(i);
        settings.push({
          id,
          name: SETTINGS[id] ?? `unknown (0x${id.toString(16)})`,
          value: view.getUint32(i + 2),
        });
      }
      record.settings = settings;
    } else if (type === 0x8 && length === 4) {
      record.windowIncrement = view.getUint32(0) & 0x7fffffff;
    } else if (type === 0x3 && length === 4) {
      record.errorCode = view.getUint32(0);
    } else if (type === 0x7 && length >= 8) {
      record.errorCode = view.getUint32(4);
    } else if (type === 0x0 && streamId === webSocketStream && wsParser !== null) {
      // DATA frames carry WebSocket frames as a byte stream, as TCP would (RFC 8441 §5).
      const inner: InnerWebSocketFrame[] = [];
      for (const event of wsParser.push(payload)) {
        if (event.kind !== 'frame') continue;
        const f = event.frame;
        inner.push({
          opcodeName: f.opcodeName,
          fin: f.fin,
          mask: f.mask,
          payloadLength: Number(f.payloadLength),
          headerHex: toHex(f.header, ' '),
          ...(f.opcodeName === 'text' ? { text: new TextDecoder().decode(f.unmaskedPreview) } : {}),
          ...(f.close !== undefined ? { close: f.close } : {}),
        });
      }
      if (inner.length > 0) record.webSocket = inner;
    }
    frames.push(record);
    offset += 9 + length;
  }
  return frames;
}

function headerList(headers: IncomingHttpHeaders): [string, string][] {
  return Object.entries(headers).flatMap(([name, value]) =>
    value === undefined ? [] : [[name, Array.isArray(value) ? value.join(', ') : String(value)]],
  ) as [string, string][];
}

/** Runs the exchange once on loopback, ephemeral ports, and returns what crossed the wire. */
export async function runExtendedConnect(
  options: { message?: string; timeoutMs?: number } = {},
): Promise<ExtendedConnectTrace> {
  const message = options.message ?? 'Hello';
  const timeoutMs = options.timeoutMs ?? 5000;
  let requestHeaders: [string, string][] = [];

  // The WebSocket server side: an echo on the CONNECT stream.
  const h2 = createHttp2Server({ settings: { enableConnectProtocol: true } });
  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    requestHeaders = headerList(headers);
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    // RFC 8441 §5: success is any 2xx, here 200; there is no Sec-WebSocket-Accept.
    stream.respond({ ':status': 200 });
    const parser = new FrameParser({ direction: 'client-to-server' });
    stream.on('data', (chunk: Buffer) => {
      for (const event of parser.push(chunk)) {
        if (event.kind === 'message' && event.message.type === 'text') {
          stream.write(encodeFrame({ opcode: 0x1, payload: event.message.text ?? '' }));
        } else if (event.kind === 'frame' && event.frame.opcodeName === 'close') {
          const code = event.frame.close?.code ?? 1000;
          stream.write(encodeFrame({ opcode: 0x8, payload: closePayload(code) }));
          // The closing handshake ends the stream, not the TCP connection (RFC 8441 §5).
          stream.end();
        }
      }
    });
    stream.on('error', () => {});
  });
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  const h2Port = (h2.address() as AddressInfo).port;

  // The recording relay between client and server.
  const recorded: Record<Direction, Buffer[]> = { 'client-to-server': [], 'server-to-client': [] };
  /** Each chunk's place in arrival order across both directions, and its first byte's offset. */
  const arrivals: Record<Direction, { seq: number; offset: number }[]> = {
    'client-to-server': [],
    'server-to-client': [],
  };
  const lengths: Record<Direction, number> = { 'client-to-server': 0, 'server-to-client': 0 };
  let seq = 0;
  const record = (direction: Direction, chunk: Buffer) => {
    recorded[direction].push(chunk);
    arrivals[direction].push({ seq: seq++, offset: lengths[direction] });
    lengths[direction] += chunk.length;
  };
  const relay = createTcpServer((client) => {
    const server = connectTcp({ host: '127.0.0.1', port: h2Port });
    client.on('data', (chunk) => {
      record('client-to-server', chunk);
      server.write(chunk);
    });
    server.on('data', (chunk) => {
      record('server-to-client', chunk);
      client.write(chunk);
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  const relayPort = (relay.address() as AddressInfo).port;

  let session: ClientHttp2Session | undefined;
  try {
    const result = await withTimeout(timeoutMs, async () => {
      session = connectHttp2(`http://127.0.0.1:${relayPort}`);
      session.on('error', () => {});
      // RFC 8441 §3: a client must not send :protocol before the server's SETTINGS allow it.
      const [settings] = (await once(session, 'remoteSettings')) as [
        { enableConnectProtocol?: boolean },
      ];
      const enabled = settings.enableConnectProtocol === true;
      const stream = session.request(
        {
          ':method': 'CONNECT',
          ':protocol': 'websocket',
          ':scheme': 'http',
          ':path': '/echo',
          ':authority': `127.0.0.1:${relayPort}`,
          'sec-websocket-version': '13',
        },
        { endStream: false },
      );
      const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
      const key = crypto.getRandomValues(new Uint8Array(4));
      stream.write(encodeFrame({ opcode: 0x1, payload: message, maskingKey: key }));
      const parser = new FrameParser({ direction: 'server-to-client' });
      let echoed: string | null = null;
      let closeSent = false;
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (chunk: Buffer) => {
          for (const event of parser.push(chunk)) {
            if (event.kind === 'message' && echoed === null) {
              echoed = event.message.text ?? null;
              if (!closeSent) {
                closeSent = true;
                stream.write(
                  encodeFrame({
                    opcode: 0x8,
                    payload: closePayload(1000),
                    maskingKey: crypto.getRandomValues(new Uint8Array(4)),
                  }),
                );
              }
            }
          }
        });
        stream.on('end', () => {
          stream.end();
          resolve();
        });
        stream.on('error', reject);
      });
      await new Promise<void>((resolve) => stream.on('close', () => resolve()));
      await new Promise<void>((resolve) => session?.close(() => resolve()));
      return { enabled, response, echoed, streamId: stream.id ?? 1 };
    });
    // The relay's last bytes (GOAWAY, the FINs) may trail the session's close a little.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const c2s = new Uint8Array(Buffer.concat(recorded['client-to-server']));
    const s2c = new Uint8Array(Buffer.concat(recorded['server-to-client']));
    const frames = [
      ...decodeHttp2Frames(c2s, 'client-to-server', result.streamId),
      ...decodeHttp2Frames(s2c, 'server-to-client', result.streamId),
    ];
    return {
      nodeVersion: process.version,
      serverEnabledConnectProtocol: result.enabled,
      requestHeaders,
      responseHeaders: headerList(result.response),
      prefaceText: new TextDecoder().decode(c2s.subarray(0, PREFACE.length)),
      frames: inArrivalOrder(frames, arrivals),
      sent: message,
      echoed: result.echoed,
    };
  } finally {
    session?.destroy();
    relay.close();
    h2.close();
  }
}

let shared: Promise<ExtendedConnectTrace> | undefined;

/** One run shared by everything that renders it in one process (a page built in two parts). */
export function sharedRun(): Promise<ExtendedConnectTrace> {
  shared ??= runExtendedConnect({ message: 'Hello' });
  return shared;
}

/**
 * Frames of both directions in the order the relay saw them: a frame takes the arrival number of
 * the chunk its last byte came in (it could be acted on only then).
 */
function inArrivalOrder(
  frames: readonly Http2FrameRecord[],
  arrivals: Record<Direction, readonly { seq: number; offset: number }[]>,
): Http2FrameRecord[] {
  const arrivalOf = (frame: Http2FrameRecord) => {
    const end = frame.offset + 9 + frame.length - 1;
    let found = 0;
    for (const chunk of arrivals[frame.direction]) {
      if (chunk.offset <= end) found = chunk.seq;
      else break;
    }
    return found;
  };
  return frames
    .map((frame, index) => ({ frame, index, seq: arrivalOf(frame) }))
    .sort((a, b) => a.seq - b.seq || a.index - b.index)
    .map(({ frame }) => frame);
}

async function withTimeout<T>(ms: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the HTTP/2 exchange took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const trace = await runExtendedConnect();
  console.log(JSON.stringify(trace, null, 2));
}
