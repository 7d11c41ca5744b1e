/**
 * The byte streams both parsers read: masked client frames (what a server receives), cut into
 * the reads a socket delivers, so frames cross chunk boundaries as they do on a real connection.
 */
import { encodeFrame } from '../protocol/frame-encoder.ts';

/** Node delivers socket data in reads of up to 64 KiB. */
export const READ_SIZE = 64 * 1024;

export interface Stream {
  readonly bytes: Uint8Array;
  readonly frames: number;
  readonly payloadSize: number;
  readonly text: boolean;
}

/** Deterministic bytes, so every run measures the same stream. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) & 0xff;
  };
}

/** Exactly `size` bytes of UTF-8 mixing 1- to 4-byte characters, cut on a character boundary. */
function textPayload(size: number): Uint8Array {
  const sample = new TextEncoder().encode('WebSocket Lab: héllo wörld, 3 € per frame, 😀 ok. ');
  const out = new Uint8Array(size).fill(0x20);
  let at = 0;
  while (at + sample.length <= size) {
    out.set(sample, at);
    at += sample.length;
  }
  return out;
}

/** About `targetBytes` of masked client frames carrying `payloadSize`-byte payloads each. */
export function clientStream(payloadSize: number, text: boolean, targetBytes: number): Stream {
  const random = prng(payloadSize * 2 + (text ? 1 : 0) + 1);
  const payload = text
    ? textPayload(payloadSize)
    : Uint8Array.from({ length: payloadSize }, () => random());
  const sample = encodeFrame({ opcode: text ? 0x1 : 0x2, payload, maskingKey: new Uint8Array(4) });
  const frames = Math.max(1, Math.round(targetBytes / sample.length));
  const bytes = new Uint8Array(frames * sample.length);
  for (let i = 0; i < frames; i++) {
    const key = Uint8Array.of(random(), random(), random(), random());
    bytes.set(
      encodeFrame({ opcode: text ? 0x1 : 0x2, payload, maskingKey: key }),
      i * sample.length,
    );
  }
  return { bytes, frames, payloadSize, text };
}

/** How many frames lie across a boundary between two reads. */
export function spanning(stream: Stream, readSize: number): number {
  const frameLength = stream.bytes.length / stream.frames;
  let count = 0;
  for (let start = 0; start < stream.bytes.length; start += frameLength) {
    if (Math.floor(start / readSize) !== Math.floor((start + frameLength - 1) / readSize)) count++;
  }
  return count;
}

/** The stream as socket reads, each a fresh Buffer (ws unmasks in place, so never share them). */
export function reads(bytes: Uint8Array, readSize = READ_SIZE): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += readSize) {
    out.push(Buffer.from(bytes.subarray(at, at + readSize)));
  }
  return out;
}
