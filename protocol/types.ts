/**
 * Shared shapes of the wire model. Field names follow RFC 6455 §5.2 (`fin`, `rsv1`, `opcode`,
 * `mask`, `payloadLength`, `maskingKey`) so code, annotations and chapters say the same thing.
 */

/** Which way the bytes travelled. Masking rules depend on it (RFC 6455 §5.1). */
export type Direction = 'client-to-server' | 'server-to-client';

/**
 * Something in the bytes that breaks a rule. Problems are data, never exceptions: the bytes a
 * learner pastes are often wrong on purpose, and the lesson is the explanation.
 */
export interface Problem {
  /** Short stable identifier, e.g. `client-frame-unmasked`; tests and exercises match on it. */
  readonly rule: string;
  /** The close code an endpoint sends when it fails the connection for this, or null when none applies. */
  readonly closeCode: number | null;
  /** Where the rule is written, e.g. `RFC 6455 §5.1`. */
  readonly section: string;
  /** Offset of the offending byte in the stream (not in the frame). */
  readonly byteOffset: number;
  /** A sentence a learner can act on: which byte, which rule, what would be correct. */
  readonly explanation: string;
  /** Fatal problems fail the connection (RFC 6455 §7.1.7); the rest are notes. */
  readonly fatal: boolean;
  /** The frame field that breaks the rule, when one does; views highlight it. */
  readonly field?: FieldName;
}

export type FieldName =
  | 'fin'
  | 'rsv1'
  | 'rsv2'
  | 'rsv3'
  | 'opcode'
  | 'mask'
  | 'payloadLength'
  | 'extendedPayloadLength'
  | 'maskingKey'
  | 'payload';

/** One field of a frame header (or the payload), located to the bit. */
export interface FieldAnnotation {
  readonly name: FieldName;
  /** Label as drawn in RFC 6455 §5.2's diagram, e.g. `FIN`, `RSV1`, `Payload len`. */
  readonly label: string;
  /** Offset in the stream of the byte where the field starts. */
  readonly byteOffset: number;
  /** Bit position inside that byte, 0 = most significant bit (the RFC numbers bits this way). */
  readonly bitOffset: number;
  /** Width in bits. */
  readonly bitWidth: number;
  /** The raw bits as a string of 0 and 1; empty for the payload, which can be large. */
  readonly bits: string;
  /** Decoded value: a number for header fields, a hex string for the masking key, a preview for the payload. */
  readonly value: number | string;
  /** What the value means here, in one sentence. */
  readonly meaning: string;
}

export type LengthForm = '7-bit' | '16-bit' | '64-bit';

/** A frame as it was seen on the wire, every field annotated. */
export interface AnnotatedFrame {
  /** 0-based position of this frame in the stream it was parsed from. */
  readonly index: number;
  readonly direction: Direction;
  /** Offset of the frame's first byte in the stream. */
  readonly streamOffset: number;
  readonly headerLength: number;
  /** The header bytes exactly as they crossed the wire. */
  readonly header: Uint8Array;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
  readonly opcode: number;
  /** `continuation`, `text`, `binary`, `close`, `ping`, `pong` or `reserved`. */
  readonly opcodeName: string;
  readonly mask: boolean;
  /** The length the header claims, exact. A bigint only when it exceeds Number.MAX_SAFE_INTEGER. */
  readonly payloadLength: number | bigint;
  readonly lengthForm: LengthForm;
  readonly maskingKey: Uint8Array | null;
  /** Payload bytes as they crossed the wire (still masked), at most the preview limit. */
  readonly payloadPreview: Uint8Array;
  /** Payload bytes after unmasking, at most the preview limit. Equal to payloadPreview when unmasked. */
  readonly unmaskedPreview: Uint8Array;
  /** How many payload bytes were actually received (less than payloadLength only for a frame cut short). */
  readonly payloadReceived: number;
  /** True when all payloadLength bytes arrived. */
  readonly complete: boolean;
  readonly fields: readonly FieldAnnotation[];
  readonly problems: readonly Problem[];
  /** For close frames with a payload: the status code and reason (RFC 6455 §5.5.1). */
  readonly close?: { readonly code: number | null; readonly reason: string };
}

/** A whole message, assembled from one frame or a run of fragments (RFC 6455 §5.4). */
export interface AssembledMessage {
  readonly direction: Direction;
  /** `text` or `binary`, from the first frame's opcode. */
  readonly type: 'text' | 'binary';
  /** Indices of the data frames that made it, in order. */
  readonly frameIndices: readonly number[];
  readonly length: number;
  /** The unmasked payload, at most the preview limit. */
  readonly preview: Uint8Array;
  /** For text messages: the preview decoded (replacement characters where it cut a code point). */
  readonly text?: string;
  /** True when RSV1 marked it compressed (permessage-deflate, RFC 7692 §6); payload is as on the wire. */
  readonly compressed: boolean;
}

/**
 * What the frame parser reports, in stream order. `problem` carries what belongs to no single
 * whole frame: a stream that ended inside a frame header, or with a fragmented message unfinished.
 */
export type ParserEvent =
  | { readonly kind: 'frame'; readonly frame: AnnotatedFrame }
  | { readonly kind: 'message'; readonly message: AssembledMessage }
  | { readonly kind: 'problem'; readonly problem: Problem };
