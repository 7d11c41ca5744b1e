/**
 * Exercises of chapter 5, "Frames, bit by bit". Every value is drawn from the learner's seed;
 * every answer is derived from those values by `protocol/` (the encoder writes the frames the
 * questions show), so no answer is stored. Feedback names the field, the byte and the rule.
 */
import type { LabEvent } from '../../../protocol/annotations.ts';
import { encodeFrame, minimalLengthForm } from '../../../protocol/frame-encoder.ts';
import { describeOpcode, toHex } from '../../../protocol/frame-parser.ts';
import type { LengthForm } from '../../../protocol/types.ts';
import { readBit, readHex, readInteger, sameBytes } from '../normalise.ts';
import type { Rng } from '../rng.ts';
import { defineExercise, type Verdict } from '../types.ts';

const RIGHT: Verdict = { correct: true, feedback: '' };
const wrong = (feedback: string, fields?: readonly string[]): Verdict =>
  fields === undefined ? { correct: false, feedback } : { correct: false, feedback, wrong: fields };

const spaced = (bytes: Uint8Array) => toHex(bytes, ' ');
const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

// ---- 1. decode a frame header ---------------------------------------------------------------

interface HeaderParams {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly key: readonly number[];
  readonly length: number;
}

/** The header bytes of the frame the parameters describe, written by the encoder. */
function headerOf(p: HeaderParams): Uint8Array {
  const frame = encodeFrame({
    fin: p.fin,
    opcode: p.opcode,
    payload: new Uint8Array(p.length),
    ...(p.mask ? { maskingKey: Uint8Array.from(p.key) } : {}),
  });
  return frame.subarray(0, frame.length - p.length);
}

function readOpcode(text: string): number | string {
  const word = text.trim().toLowerCase();
  const named = [0, 1, 2, 8, 9, 10].find((op) => describeOpcode(op).name === word);
  if (named !== undefined) return named;
  const n = readInteger(text);
  if (!n.ok) return `${n.why} The opcode is a number from 0 to 15 (or its name, like "text").`;
  return n.value;
}

const decodeHeader = defineExercise<HeaderParams>({
  id: 'frames-decode-header',
  chapter: 'frames',
  kind: 'frame-fields',
  title: 'Decode a frame header',
  generate(rng: Rng): HeaderParams {
    const opcode = rng.pick([0x1, 0x2, 0x1, 0x2, 0x8, 0x9, 0xa]);
    const control = opcode >= 0x8;
    // Control frames are never fragmented and carry at most 125 bytes (RFC 6455 §5.5).
    const fin = control ? true : rng.int(0, 3) > 0;
    const length = control
      ? rng.int(0, 125)
      : rng.boolean()
        ? rng.int(1, 125)
        : rng.int(126, 65535);
    const mask = rng.boolean();
    return { fin, opcode, mask, key: [...rng.bytes(4)], length };
  },
  prompt(p) {
    return {
      text: `These are the header bytes of a frame, up to its payload (the ${p.length} payload bytes are left out). Read each field.`,
      code: spaced(headerOf(p)),
    };
  },
  fields(p) {
    return [
      { name: 'fin', label: 'FIN', placeholder: '0 or 1' },
      { name: 'opcode', label: 'Opcode', placeholder: 'a number, e.g. 0x1 or 1' },
      { name: 'mask', label: 'MASK', placeholder: '0 or 1' },
      { name: 'payloadLength', label: 'Payload length (bytes)', placeholder: 'a number' },
      {
        name: 'maskingKey',
        label: 'Masking key',
        placeholder: p.mask ? 'hex, 4 bytes' : 'hex, 4 bytes, or "none"',
      },
    ];
  },
  hints(p) {
    return [
      'Byte 0 holds FIN (its top bit, 0x80), RSV1-3 and the opcode (its low 4 bits); byte 1 holds MASK (its top bit) and the 7-bit Payload len (RFC 6455 §5.2).',
      'Write byte 0 and byte 1 in binary. A Payload len of 126 means "the length is in the next 2 bytes", most significant byte first.',
      `Byte 0 is ${hex2(headerOf(p)[0] ?? 0)} and byte 1 is ${hex2(headerOf(p)[1] ?? 0)}: split them as 1 + 3 + 4 bits and 1 + 7 bits.`,
    ];
  },
  reveal(p) {
    const key = p.mask ? spaced(Uint8Array.from(p.key)) : 'none (MASK is 0)';
    return `FIN ${p.fin ? 1 : 0}, opcode 0x${p.opcode.toString(16)} (${describeOpcode(p.opcode).name}), MASK ${p.mask ? 1 : 0}, payload length ${p.length} (${minimalLengthForm(p.length)} form), masking key ${key}.`;
  },
  check(p, answer) {
    const header = headerOf(p);
    const b0 = header[0] ?? 0;
    const b1 = header[1] ?? 0;
    const problems: string[] = [];
    const fields: string[] = [];
    const fail = (field: string, text: string) => {
      fields.push(field);
      problems.push(text);
    };

    const fin = readBit(answer.fin ?? '');
    if (!fin.ok) fail('fin', `FIN: ${fin.why}`);
    else if (fin.value !== (p.fin ? 1 : 0)) {
      fail(
        'fin',
        `FIN is the top bit of byte 0 (0x80); byte 0 is ${hex2(b0)}, so that bit is ${p.fin ? 1 : 0}.`,
      );
    }

    const opcode = readOpcode(answer.opcode ?? '');
    if (typeof opcode === 'string') fail('opcode', `Opcode: ${opcode}`);
    else if (opcode !== p.opcode) {
      if (opcode === b0) {
        fail(
          'opcode',
          `Opcode: ${hex2(b0)} is the whole of byte 0; the opcode is only its low 4 bits.`,
        );
      } else if (opcode === b0 >> 4) {
        fail(
          'opcode',
          'Opcode: that is the high half of byte 0 (FIN and RSV1-3); the opcode is the low half.',
        );
      } else {
        fail('opcode', `Opcode: the low 4 bits of byte 0 (${hex2(b0)} AND 0x0f) give it.`);
      }
    }

    const mask = readBit(answer.mask ?? '');
    if (!mask.ok) fail('mask', `MASK: ${mask.why}`);
    else if (mask.value !== (p.mask ? 1 : 0)) {
      fail(
        'mask',
        `MASK is the top bit of byte 1, not of byte 0; byte 1 is ${hex2(b1)}, so MASK is ${p.mask ? 1 : 0}.`,
      );
    }

    const length = readInteger(answer.payloadLength ?? '');
    if (!length.ok) fail('payloadLength', `Payload length: ${length.why}`);
    else if (length.value !== p.length) {
      const len7 = b1 & 0x7f;
      const little = ((header[3] ?? 0) << 8) | (header[2] ?? 0);
      if (len7 >= 126 && length.value === len7) {
        fail(
          'payloadLength',
          `Payload length: ${len7} is not a length but the marker for the ${len7 === 126 ? '16' : '64'}-bit form; the length is in the bytes that follow (RFC 6455 §5.2).`,
        );
      } else if (length.value === b1) {
        fail(
          'payloadLength',
          `Payload length: you read all of byte 1 (${hex2(b1)}); its top bit is MASK, the length is the low 7 bits.`,
        );
      } else if (len7 === 126 && length.value === little) {
        fail(
          'payloadLength',
          'Payload length: you read the 16-bit length least significant byte first; lengths are in network byte order, most significant byte first (RFC 6455 §5.2).',
        );
      } else {
        fail(
          'payloadLength',
          len7 === 126
            ? 'Payload length: Payload len is 126, so the length is the 16-bit number in bytes 2 and 3.'
            : 'Payload length: it is the low 7 bits of byte 1.',
        );
      }
    }

    const keyText = (answer.maskingKey ?? '').trim().toLowerCase();
    if (!p.mask) {
      if (!['', 'none', '-', 'no', 'n/a', 'no key'].includes(keyText)) {
        fail(
          'maskingKey',
          'Masking key: MASK is 0, so this frame has no masking key: answer "none".',
        );
      }
    } else {
      const key = readHex(answer.maskingKey ?? '');
      const keyStart = header.length - 4;
      if (!key.ok) fail('maskingKey', `Masking key: ${key.why}`);
      else if (!sameBytes(key.value, Uint8Array.from(p.key))) {
        fail(
          'maskingKey',
          `Masking key: it is the 4 bytes right after the length, bytes ${keyStart} to ${keyStart + 3} of the header.`,
        );
      }
    }
    return problems.length === 0 ? RIGHT : wrong(problems.join(' '), fields);
  },
});

// ---- 2. the bytes of a header for a given length --------------------------------------------

interface LengthParams {
  readonly length: number;
}

function serverHeader(length: number, form: LengthForm = minimalLengthForm(length)): Uint8Array {
  // The header alone: encode with the claimed length and no payload.
  return encodeFrame({ opcode: 0x2, declaredLength: length, lengthForm: form });
}

const lengthHeader = defineExercise<LengthParams>({
  id: 'frames-length-header',
  chapter: 'frames',
  kind: 'short-answer',
  title: 'The header for a payload of N bytes',
  label: 'Header bytes (hex)',
  generate(rng) {
    const form = rng.pick(['7-bit', '16-bit', '16-bit', '64-bit'] as const);
    const length =
      form === '7-bit'
        ? rng.int(1, 125)
        : form === '16-bit'
          ? rng.int(126, 65535)
          : rng.int(65536, 0xffffffff);
    return { length };
  },
  prompt(p) {
    return {
      text: `A server sends one unmasked, final binary frame carrying ${p.length.toLocaleString('en')} bytes. Write its header in hex: every byte before the payload.`,
    };
  },
  hints(p) {
    return [
      'Byte 0: FIN set, RSV1-3 clear, opcode 2 (binary). Byte 1: MASK clear (servers never mask, RFC 6455 §5.1), then the 7-bit Payload len.',
      'Up to 125 bytes the 7-bit field holds the length; up to 65,535 it holds 126 and 2 bytes follow; beyond that 127 and 8 bytes follow. The shortest form that fits must be used (RFC 6455 §5.2).',
      `${p.length} is 0x${p.length.toString(16)}, which needs the ${minimalLengthForm(p.length)} form. Write it most significant byte first.`,
    ];
  },
  reveal(p) {
    return `${spaced(serverHeader(p.length))} (the ${minimalLengthForm(p.length)} form).`;
  },
  check(p, text) {
    const read = readHex(text);
    if (!read.ok) return wrong(read.why);
    const answer = read.value;
    const expected = serverHeader(p.length);
    if (sameBytes(answer, expected)) return RIGHT;
    const b0 = answer[0] ?? 0;
    const b1 = answer[1] ?? 0;
    if (
      answer.length > expected.length &&
      sameBytes(answer.subarray(0, expected.length), expected)
    ) {
      return wrong(
        `The first ${expected.length} bytes are right; the header ends there, before the payload.`,
      );
    }
    if (b0 !== 0x82) {
      if ((b0 & 0x0f) === 0x2 && (b0 & 0x80) === 0)
        return wrong('Byte 0: FIN must be set (0x80), since this one frame is the whole message.');
      if ((b0 & 0x0f) === 0x1)
        return wrong('Byte 0: opcode 1 is text; a binary frame has opcode 2.');
      return wrong(`Byte 0 should be FIN (0x80) + opcode 2 = 0x82; you wrote ${hex2(b0)}.`);
    }
    if (b1 & 0x80) {
      return wrong(
        'Byte 1: a server never masks its frames (RFC 6455 §5.1), so MASK (0x80) is clear.',
      );
    }
    const form: LengthForm = b1 === 126 ? '16-bit' : b1 === 127 ? '64-bit' : '7-bit';
    const needed = minimalLengthForm(p.length);
    if (form !== needed) {
      const fits =
        (form === '7-bit' && p.length <= 125) ||
        (form === '16-bit' && p.length <= 0xffff) ||
        form === '64-bit';
      return wrong(
        fits
          ? `You used the ${form} form, but ${p.length} fits the ${needed} form, and RFC 6455 §5.2 requires the shortest one.`
          : `${p.length} does not fit the ${form} form; it needs the ${needed} form${needed === '16-bit' ? ' (Payload len 126, then 2 bytes)' : needed === '64-bit' ? ' (Payload len 127, then 8 bytes)' : ''}.`,
      );
    }
    const extended = form === '7-bit' ? 0 : form === '16-bit' ? 2 : 8;
    if (answer.length !== 2 + extended) {
      return wrong(
        `The ${form} form has ${2 + extended} header bytes here (no masking key); you wrote ${answer.length}.`,
      );
    }
    const reversed = Uint8Array.from([...expected.subarray(2)].reverse());
    if (extended > 0 && sameBytes(answer.subarray(2), reversed)) {
      return wrong(
        'The length bytes are in the wrong order: lengths are in network byte order, most significant byte first (RFC 6455 §5.2).',
      );
    }
    return wrong(
      `The length is wrong: ${p.length} is 0x${p.length.toString(16)}; ${form === '7-bit' ? 'it goes in the low 7 bits of byte 1' : `it goes in the ${extended} bytes after byte 1`}.`,
    );
  },
});

// ---- 3. unmask one byte ---------------------------------------------------------------------

interface UnmaskParams {
  readonly key: readonly number[];
  readonly plain: readonly number[];
  readonly index: number;
}

const wireOf = (p: UnmaskParams) =>
  Uint8Array.from(p.plain, (b, i) => b ^ (p.key[i % 4] as number));

const unmaskByte = defineExercise<UnmaskParams>({
  id: 'frames-unmask-byte',
  chapter: 'frames',
  kind: 'short-answer',
  title: 'Unmask a payload byte',
  label: 'Unmasked byte (hex)',
  generate(rng) {
    const length = rng.int(6, 12);
    // An index past the key's length, so "i mod 4" matters.
    return { key: [...rng.bytes(4)], plain: [...rng.bytes(length)], index: rng.int(4, length - 1) };
  },
  prompt(p) {
    return {
      text: `A client frame has masking key ${spaced(Uint8Array.from(p.key))}. Its payload on the wire is below. What is payload byte ${p.index} (counting from 0) after unmasking?`,
      code: spaced(wireOf(p)),
    };
  },
  hints(p) {
    return [
      'Masking is XOR with the key, repeating every 4 bytes (RFC 6455 §5.3): XOR the masked byte with the same key byte again.',
      `Byte ${p.index} uses key byte ${p.index} mod 4 = ${p.index % 4}.`,
      `Compute ${hex2(wireOf(p)[p.index] ?? 0)} XOR ${hex2(p.key[p.index % 4] ?? 0)}.`,
    ];
  },
  reveal(p) {
    const w = wireOf(p)[p.index] ?? 0;
    const k = p.key[p.index % 4] ?? 0;
    return `${hex2(w)} XOR ${hex2(k)} (key byte ${p.index % 4}) = ${hex2(p.plain[p.index] ?? 0)}.`;
  },
  check(p, text) {
    const read = readHex(text);
    if (!read.ok) return wrong(read.why);
    if (read.value.length !== 1)
      return wrong(`Give one byte (two hex digits); you gave ${read.value.length}.`);
    const answer = read.value[0] as number;
    const wire = wireOf(p);
    const w = wire[p.index] as number;
    const k = p.key[p.index % 4] as number;
    if (answer === (p.plain[p.index] as number)) return RIGHT;
    if (answer === w)
      return wrong(
        'That is the byte as it is on the wire: it still has to be XORed with its key byte.',
      );
    for (let j = 0; j < 4; j++) {
      if (j !== p.index % 4 && answer === (w ^ (p.key[j] as number))) {
        return wrong(
          `You XORed with key byte ${j}; byte ${p.index} uses key byte ${p.index} mod 4 = ${p.index % 4} (RFC 6455 §5.3).`,
        );
      }
    }
    if (answer === ((w + k) & 0xff) || answer === ((w - k) & 0xff)) {
      return wrong('Masking is XOR, not addition or subtraction (RFC 6455 §5.3).');
    }
    for (const j of [p.index - 1, p.index + 1]) {
      if (j >= 0 && j < wire.length && answer === (p.plain[j] as number)) {
        return wrong(
          `That is byte ${j} unmasked; count from 0, so byte ${p.index} is the ${p.index + 1}th.`,
        );
      }
    }
    return wrong(`Not quite: XOR ${hex2(w)} with key byte ${p.index % 4}, bit by bit.`);
  },
});

// ---- 4. live: which length form did your client use? ----------------------------------------

interface LiveLengthParams {
  readonly length: number;
}

type FrameEvent = Extract<LabEvent, { type: 'frame' }>;

const clientFrames = (events: readonly LabEvent[]): FrameEvent[] =>
  events.filter((e): e is FrameEvent => e.type === 'frame' && e.direction === 'client-to-server');

const liveLength = defineExercise<LiveLengthParams>({
  id: 'frames-live-binary-length',
  chapter: 'frames',
  kind: 'live',
  title: 'Send a binary message and read its length form',
  labPath: '/frames/',
  generate(rng) {
    return { length: rng.int(126, 2000) };
  },
  prompt(p) {
    return {
      text: `Send one binary message of exactly ${p.length} bytes to the lab server's /echo, in a single frame: with the frame builder (payload as hex, opcode 0x2 binary) or with the live console's binary mode. The lab server records the frame; then look at its header: which length form did your client use, and why?`,
    };
  },
  hints(p) {
    return [
      'In the frame builder choose "Hex bytes" and opcode 0x2; the length is counted in bytes, so you need 2 hex digits per byte.',
      `${p.length} bytes is more than 125 and at most 65,535, so a correct client uses Payload len 126 and a 16-bit length (RFC 6455 §5.2).`,
      `The header should read 82 fe ${toHex(Uint8Array.of(p.length >> 8, p.length & 0xff), ' ')} followed by a masking key.`,
    ];
  },
  reveal(p) {
    return `A frame of ${p.length} bytes uses the 16-bit form: 82 fe ${toHex(Uint8Array.of(p.length >> 8, p.length & 0xff), ' ')}, then the 4-byte key and the masked payload.`;
  },
  check(p, events) {
    const frames = clientFrames(events).filter((e) => e.frame.opcode !== 0x8);
    if (frames.length === 0) return null;
    const exact = frames.find(
      (e) => e.frame.opcode === 0x2 && e.frame.fin && Number(e.frame.payloadLength) === p.length,
    );
    if (exact !== undefined) {
      const fatal = exact.frame.problems.find((pr) => pr.fatal);
      if (fatal !== undefined) {
        return wrong(
          `The server saw your ${p.length}-byte binary frame but rejected it: ${fatal.explanation} (${fatal.section}). Send it with the shortest length form.`,
        );
      }
      return exact.frame.lengthForm === '16-bit'
        ? RIGHT
        : wrong(
            `Your frame used the ${exact.frame.lengthForm} form; ${p.length} bytes needs the 16-bit form.`,
          );
    }
    const last = frames[frames.length - 1] as FrameEvent;
    const f = last.frame;
    if (f.opcode === 0x1 && Number(f.payloadLength) === p.length) {
      return wrong(
        `The server saw ${p.length} bytes, but as text (opcode 1); send them as binary (opcode 2).`,
      );
    }
    if (f.opcode === 0x2 && !f.fin) {
      return wrong(
        'Your message was split into fragments (FIN 0 on the first frame); send it as one frame with FIN 1.',
      );
    }
    if (f.opcode === 0x2 || f.opcode === 0x1) {
      return wrong(
        `The last message the server saw had ${f.payloadLength} bytes, not ${p.length}. In hex mode every byte is two hex digits.`,
      );
    }
    return wrong(
      `The last frame the server saw from you was a ${f.opcodeName} frame; this exercise needs a binary (opcode 2) frame of ${p.length} bytes.`,
    );
  },
});

// ---- 5. live: make the server fail the connection with 1002 ---------------------------------

const REJECTIONS = [
  {
    rule: 'reserved-opcode',
    task: 'a frame with a reserved opcode (0x3-0x7 or 0xB-0xF)',
    hint: 'In the frame builder, pick one of the "reserved" opcodes.',
  },
  {
    rule: 'rsv2-without-extension',
    task: 'a frame with RSV2 set',
    hint: 'In the frame builder, tick RSV2: no extension gives it a meaning.',
  },
  {
    rule: 'client-frame-unmasked',
    task: 'an unmasked client frame',
    hint: 'In the frame builder, untick MASK.',
  },
  {
    rule: 'control-frame-too-long',
    task: 'a ping with more than 125 bytes of payload',
    hint: 'In the frame builder, choose opcode 0x9 ping and type a payload of 126 bytes or more.',
  },
  {
    rule: 'length-not-minimal',
    task: 'a frame whose length uses a longer form than it needs',
    hint: 'In the frame builder, keep a short payload and force the 16-bit length form.',
  },
] as const;

interface RejectParams {
  readonly which: number;
}

const reject1002 = defineExercise<RejectParams>({
  id: 'frames-live-reject-1002',
  chapter: 'frames',
  kind: 'live',
  title: 'Make the server close with 1002',
  labPath: '/frames/',
  generate(rng) {
    return { which: rng.int(0, REJECTIONS.length - 1) };
  },
  prompt(p) {
    const r = REJECTIONS[p.which] ?? REJECTIONS[0];
    return {
      text: `Build ${r.task} and send it to the lab server. It must fail the connection with close code 1002, protocol error, for exactly that reason.`,
    };
  },
  hints(p) {
    const r = REJECTIONS[p.which] ?? REJECTIONS[0];
    return [
      'The frame builder at the end of this chapter sends any frame, valid or not, through the lab server’s /raw relay.',
      r.hint,
      'After sending, the builder shows the server’s close frame (88 …, code 03 ea = 1002) and the rule in its reason.',
    ];
  },
  reveal(p) {
    const r = REJECTIONS[p.which] ?? REJECTIONS[0];
    return `Send ${r.task}; the server answers with a close frame carrying 1002 and the reason "${r.rule}".`;
  },
  check(p, events) {
    const target = (REJECTIONS[p.which] ?? REJECTIONS[0]).rule;
    const closes = events.filter(
      (e): e is Extract<LabEvent, { type: 'close-frame' }> =>
        e.type === 'close-frame' && e.direction === 'server-to-client' && e.initiated,
    );
    if (closes.length === 0) {
      const frames = clientFrames(events);
      return frames.length > 0 && frames.every((e) => e.frame.problems.length === 0)
        ? wrong('The server accepted every frame you sent: none of them broke a rule yet.')
        : null;
    }
    for (const close of closes) {
      const broke = clientFrames(events)
        .filter((e) => e.conn === close.conn)
        .flatMap((e) => e.frame.problems)
        .find((pr) => pr.fatal);
      if (close.code === 1002 && broke?.rule === target) return RIGHT;
    }
    const last = closes[closes.length - 1] as (typeof closes)[number];
    const broke = clientFrames(events)
      .filter((e) => e.conn === last.conn)
      .flatMap((e) => e.frame.problems)
      .find((pr) => pr.fatal);
    const task = (REJECTIONS[p.which] ?? REJECTIONS[0]).task;
    if (last.code !== 1002) {
      return wrong(
        `The server closed with ${last.code ?? 'no code'}${broke === undefined ? '' : `, because ${broke.explanation}`}; this exercise wants 1002 for ${task}.`,
      );
    }
    return wrong(
      `The server did close with 1002, but because ${broke === undefined ? `of "${last.reason}"` : `${broke.explanation.replace(/\.$/, '')} (${broke.section})`}. This exercise asks for ${task}.`,
    );
  },
});

export const framesExercises = [decodeHeader, lengthHeader, unmaskByte, liveLength, reject1002];
