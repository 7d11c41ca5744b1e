/**
 * The annotation event stream: what the lab server saw on each connection, as JSON-ready data.
 * The lab server's tap produces it from the bytes that crossed the wire; the terminal, the
 * browser's xterm console and the labs all render this one stream. Versioned: a consumer checks
 * `v` and refuses what it does not know rather than misreading it.
 */
import type { AcceptSteps } from './accept.ts';
import { FrameParser, toHex } from './frame-parser.ts';
import type { HandshakeFinding } from './handshake.ts';
import type {
  AnnotatedFrame,
  AssembledMessage,
  Direction,
  FieldAnnotation,
  Problem,
} from './types.ts';

/**
 * 2: frame events no longer carry `fields`; `frameFields` derives them from `headerHex`. They
 * were most of each frame event's JSON, and no reader of the stream used them.
 * 3: a frame carries its payload once, unmasked (`unmaskedHex`); `wirePayloadHex` masks it again
 * with the key. A message made of one uncompressed frame carries no `previewHex`: its bytes are
 * that frame's. Each payload byte used to travel three times in every observer's JSON. New event:
 * `tls`, what a TLS handshake on the TLS port negotiated.
 */
export const ANNOTATION_SCHEMA_VERSION = 3 as const;

/** Bytes of a refused upgrade's body that a `handshake-response` event carries as `body`. */
export const RESPONSE_BODY_LIMIT = 1024;

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

interface EventBase {
  readonly v: typeof ANNOTATION_SCHEMA_VERSION;
  /** Increases by one per event across the whole server; a gap means events were dropped. */
  readonly seq: number;
  /** Milliseconds since the server started, from a monotonic clock. */
  readonly t: number;
  /** The connection the event belongs to. */
  readonly conn: number;
}

/** A frame with bytes as hex strings and lengths as numbers or decimal strings, for JSON. */
export interface FrameRecord {
  readonly index: number;
  readonly streamOffset: number;
  readonly headerLength: number;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  readonly opcodeName: string;
  readonly mask: boolean;
  readonly payloadLength: number | string;
  readonly lengthForm: AnnotatedFrame['lengthForm'];
  readonly maskingKey: string | null;
  /** Header bytes exactly as they crossed the wire. */
  readonly headerHex: string;
  /**
   * The first payload bytes (at most the tap's preview limit) as the application sees them: for
   * a masked frame, after XOR with the key (RFC 6455 §5.3). `wirePayloadHex` gives them as they
   * crossed the wire.
   */
  readonly unmaskedHex: string;
  readonly payloadReceived: number;
  readonly complete: boolean;
  readonly problems: readonly Problem[];
  readonly close?: AnnotatedFrame['close'];
}

export interface MessageRecord {
  readonly type: AssembledMessage['type'];
  readonly frameIndices: readonly number[];
  readonly length: number;
  /**
   * The message's first bytes, after decompression. Absent when the message is one
   * uncompressed frame: its bytes are then that frame's `unmaskedHex`.
   */
  readonly previewHex?: string;
  readonly text?: string;
  readonly compressed: boolean;
}

export interface HeaderRecord {
  readonly name: string;
  readonly value: string;
  readonly byteOffset: number;
  /** What the header means here, when it is one the handshake defines. */
  readonly explanation?: string;
}

/** One end of a connection. */
export type Side = 'client' | 'server';

/** Which endpoint of the lab server a connection reached. */
export type Route =
  | 'echo'
  | 'observe'
  | 'raw'
  | 'check'
  | 'trace'
  | 'classroom'
  | 'teacher'
  | 'http'
  | 'unknown';

export type LabEvent =
  | (EventBase & {
      readonly type: 'connection-opened';
      /**
       * When the TCP connection was accepted (same clock as `t`). The event itself is sent once
       * the first request shows the connection is one to annotate, so `t` can be later.
       */
      readonly openedAt: number;
      readonly client: Endpoint;
      readonly server: Endpoint;
      readonly tls: boolean;
    })
  /**
   * A TLS connection (wss://, https://): what its handshake negotiated (RFC 8446 §4), sent after
   * `connection-opened` and before the first request, whose bytes and frames the tap reads
   * decrypted. When the handshake failed there is no request: `error` says why, the rest is null.
   */
  | (EventBase & {
      readonly type: 'tls';
      /** `TLSv1.3`, `TLSv1.2`, as OpenSSL names the version. */
      readonly version: string | null;
      /** The cipher suite's standard (IANA) name, e.g. `TLS_AES_128_GCM_SHA256`. */
      readonly cipher: string | null;
      /** The protocol agreed by ALPN (RFC 7301), e.g. `http/1.1`; null when the client offered none. */
      readonly alpn: string | null;
      /** The host name the client sent in SNI (RFC 6066 §3); null for an IP address or none. */
      readonly servername: string | null;
      /** True when the client resumed an earlier session (RFC 8446 §2.2): no certificate sent. */
      readonly resumed: boolean;
      /** Milliseconds from the TCP accept to the end of the handshake. */
      readonly handshakeMs: number;
      readonly error: string | null;
    })
  | (EventBase & {
      readonly type: 'handshake-request';
      readonly route: Route;
      readonly streamOffset: number;
      readonly method: string;
      readonly target: string;
      readonly version: string;
      readonly headers: readonly HeaderRecord[];
      readonly length: number;
      readonly findings: readonly HandshakeFinding[];
      /** The accept computation for the key this request carried, when it had a valid one. */
      readonly accept: (Omit<AcceptSteps, 'bytes'> & { readonly bytesHex: string }) | null;
    })
  | (EventBase & {
      readonly type: 'handshake-response';
      readonly status: number;
      readonly reason: string;
      readonly headers: readonly HeaderRecord[];
      readonly streamOffset: number;
      readonly length: number;
      /**
       * A refusal's body as text (its first `RESPONSE_BODY_LIMIT` bytes, decoded leniently as
       * UTF-8): the server's explanation of why it did not upgrade. Absent on a 101 and on a
       * refusal without a body.
       */
      readonly body?: string;
    })
  | (EventBase & {
      readonly type: 'frame';
      readonly direction: Direction;
      readonly frame: FrameRecord;
    })
  | (EventBase & {
      readonly type: 'message';
      readonly direction: Direction;
      readonly message: MessageRecord;
    })
  | (EventBase & {
      readonly type: 'close-frame';
      readonly direction: Direction;
      readonly code: number | null;
      readonly reason: string;
      /** True when this side sent its close frame before receiving one (RFC 6455 §7.1.2). */
      readonly initiated: boolean;
    })
  | (EventBase & {
      readonly type: 'problem';
      readonly direction: Direction;
      readonly problem: Problem;
    })
  /** The TCP FIN of one side: `client-to-server` is a FIN received, `server-to-client` one sent. */
  | (EventBase & { readonly type: 'fin'; readonly direction: Direction })
  | (EventBase & {
      readonly type: 'socket-closed';
      readonly bytesIn: number;
      readonly bytesOut: number;
      readonly error: string | null;
      /**
       * Which side sent the first close frame (RFC 6455 §7.1.2), null when neither did. Absent
       * from servers that predate it.
       */
      readonly closeFrameFirst?: Side | null;
      /**
       * Which side sent the first TCP FIN as the server saw it: the client's arrived before the
       * server sent its own, or the other way round (RFC 6455 §7.1.1). Null when no FIN was seen
       * (the socket was destroyed or reset).
       */
      readonly finFirst?: Side | null;
    })
  /**
   * Sent to one observer that could not keep up: `count` events were not delivered to it, the
   * last of them numbered `seq`. It is not part of the global sequence: the next event the
   * observer receives has a higher `seq`.
   */
  | (EventBase & { readonly type: 'dropped'; readonly count: number });

export type LabEventType = LabEvent['type'];

/** First message on /observe: the connections open at that moment. */
export interface ObserveSnapshot {
  readonly v: typeof ANNOTATION_SCHEMA_VERSION;
  readonly type: 'snapshot';
  /**
   * The sequence number of the last event before this observer subscribed: it gets every event
   * after it. An observer handing over from another knows the other owes it those up to here.
   */
  readonly seq: number;
  readonly connections: readonly {
    readonly conn: number;
    readonly route: Route;
    readonly client: Endpoint;
    readonly openedAt: number;
  }[];
}

/** Bytes as lowercase hex without separators, as every `…Hex` field of the schema holds them. */
export function toHexString(bytes: Uint8Array): string {
  return toHex(bytes);
}

export function frameRecord(frame: AnnotatedFrame): FrameRecord {
  return {
    index: frame.index,
    streamOffset: frame.streamOffset,
    headerLength: frame.headerLength,
    fin: frame.fin,
    rsv1: frame.rsv1,
    rsv2: frame.rsv2,
    rsv3: frame.rsv3,
    opcode: frame.opcode,
    opcodeName: frame.opcodeName,
    mask: frame.mask,
    payloadLength:
      typeof frame.payloadLength === 'bigint'
        ? frame.payloadLength.toString()
        : frame.payloadLength,
    lengthForm: frame.lengthForm,
    maskingKey: frame.maskingKey === null ? null : toHexString(frame.maskingKey),
    headerHex: toHexString(frame.header),
    unmaskedHex: toHexString(frame.unmaskedPreview),
    payloadReceived: frame.payloadReceived,
    complete: frame.complete,
    problems: frame.problems,
    ...(frame.close !== undefined ? { close: frame.close } : {}),
  };
}

/** The payload preview of a frame as it crossed the wire: masked again when it was masked. */
export function wirePayloadHex(frame: Pick<FrameRecord, 'unmaskedHex' | 'maskingKey'>): string {
  const key = frame.maskingKey;
  if (key === null || key.length !== 8) return frame.unmaskedHex;
  const keyBytes = [0, 2, 4, 6].map((i) => Number.parseInt(key.slice(i, i + 2), 16));
  let out = '';
  for (let i = 0; i + 1 < frame.unmaskedHex.length; i += 2) {
    const byte =
      Number.parseInt(frame.unmaskedHex.slice(i, i + 2), 16) ^ (keyBytes[(i / 2) % 4] as number);
    out += byte.toString(16).padStart(2, '0');
  }
  return out;
}

/**
 * The first bytes of a message as hex, given the frames of its connection and direction by
 * index (a single-frame message carries none of its own).
 */
export function messagePreviewHex(
  message: MessageRecord,
  frameAt: (index: number) => Pick<FrameRecord, 'unmaskedHex'> | undefined,
): string {
  if (message.previewHex !== undefined) return message.previewHex;
  const index = message.frameIndices[0];
  return index === undefined ? '' : (frameAt(index)?.unmaskedHex ?? '');
}

/**
 * The annotated header fields of a frame event (byte and bit offsets, bits, value, meaning),
 * derived from the header bytes it carries by the same parser that made the event, so the stream
 * need not repeat every meaning for every frame.
 */
export function frameFields(
  frame: Pick<FrameRecord, 'headerHex' | 'streamOffset' | 'index'>,
  direction: Direction,
): readonly FieldAnnotation[] {
  const header = new Uint8Array(frame.headerHex.length / 2);
  for (let i = 0; i < header.length; i++) {
    header[i] = Number.parseInt(frame.headerHex.slice(2 * i, 2 * i + 2), 16);
  }
  const parser = new FrameParser({
    direction,
    startOffset: frame.streamOffset,
    // Only the layout is wanted here: the event already says what is wrong with the frame.
    extensions: { rsv1: true, rsv2: true, rsv3: true },
    maxPayload: Number.MAX_SAFE_INTEGER,
    continueAfterFailure: true,
  });
  for (const event of [...parser.push(header), ...parser.end()]) {
    if (event.kind === 'frame') return event.frame.fields.filter((f) => f.name !== 'payload');
  }
  return [];
}

export function messageRecord(message: AssembledMessage): MessageRecord {
  const ownBytes = message.frameIndices.length !== 1 || message.compressed;
  return {
    type: message.type,
    frameIndices: message.frameIndices,
    length: message.length,
    ...(ownBytes ? { previewHex: toHexString(message.preview) } : {}),
    compressed: message.compressed,
    ...(message.text !== undefined ? { text: message.text } : {}),
  };
}
