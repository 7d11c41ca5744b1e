/**
 * Chapter 1, The big picture: where WebSocket sits (an application protocol on TCP), messages
 * versus a byte stream, what a message costs in frame header bytes, how much polling wastes, and
 * the steps of long polling.
 */
import type { LabEvent } from '../../../protocol/annotations.ts';
import { encodeFrame } from '../../../protocol/frame-encoder.ts';
import { toHex } from '../../../protocol/frame-parser.ts';
import { readBit, readHex, readInteger, sameBytes } from '../normalise.ts';
import type { Rng } from '../rng.ts';
import { checkStatements, type Statement } from '../statements.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const OK: Verdict = { correct: true, feedback: '' };

const LAYER_STATEMENTS: readonly Statement[] = [
  {
    id: 'app-on-tcp',
    label: 'An application-layer protocol that runs on top of a TCP connection, as HTTP does',
    true: true,
    why: 'RFC 6455 §1.7 calls it an independent TCP-based protocol; its only tie to HTTP is the opening handshake.',
  },
  {
    id: 'below-tcp',
    label: 'A lower layer that the connection switches down to, beneath TCP',
    true: false,
    why: 'Nothing goes below TCP: after the 101 the very same TCP connection carries WebSocket frames instead of HTTP messages.',
  },
  {
    id: 'replaces-tcp',
    label: 'A transport protocol that replaces TCP, like UDP does',
    true: false,
    why: 'WebSocket needs TCP underneath (RFC 6455 §1.7); it adds message framing on top of the byte stream.',
  },
  {
    id: 'http-feature',
    label: 'A kind of HTTP request that stays open',
    true: false,
    why: 'After the handshake no HTTP is spoken any more: frames, not requests and responses, cross the connection (RFC 6455 §1.2).',
  },
  {
    id: 'raw-tcp',
    label: 'Raw TCP access for the page, with no framing of its own',
    true: false,
    why: 'A page never gets raw TCP: it sends and receives whole messages, and the browser frames and masks them (RFC 6455 §5).',
  },
];

const layer = defineExercise<{ statements: Statement[] }>({
  id: 'big-picture-layer',
  chapter: 'big-picture',
  kind: 'choice',
  multiple: false,
  title: 'Where does WebSocket sit?',
  generate: (rng) => ({ statements: rng.shuffle(LAYER_STATEMENTS) }),
  prompt: () => ({
    text: 'After the server answers 101 Switching Protocols, what is the connection speaking? Choose the best description of WebSocket.',
  }),
  choices: (p) => p.statements.map((s) => ({ id: s.id, label: s.label })),
  hints: () => [
    'Is the TCP connection that carried the handshake closed, or kept?',
    'Which protocol still delivers the bytes in order after the 101?',
    'WebSocket is a peer of HTTP: both are spoken over TCP.',
  ],
  reveal: () => `${LAYER_STATEMENTS[0]?.label}. ${LAYER_STATEMENTS[0]?.why}`,
  check: (p, answer) => {
    const chosen = p.statements.find((s) => s.id === answer[0]);
    if (chosen?.true) return OK;
    return {
      correct: false,
      feedback: chosen === undefined ? 'Choose one of the descriptions.' : chosen.why,
      wrong: chosen === undefined ? [] : [chosen.id],
    };
  },
});

const WORDS = ['ping', 'hello', 'quote', 'tick', 'price', 'chat', 'move', 'score', 'alert', 'join'];

interface StreamParams {
  sends: string[];
  statements: Statement[];
}

const messages = defineExercise<StreamParams>({
  id: 'big-picture-messages',
  chapter: 'big-picture',
  kind: 'choice',
  multiple: true,
  title: 'Messages, not a byte stream',
  generate: (rng) => {
    const sends = rng.shuffle(WORDS).slice(0, rng.int(2, 3));
    const joined = sends.join('');
    const cut = rng.int(1, joined.length - 1);
    const statements: Statement[] = [
      {
        id: 'ws-whole',
        label: `Over WebSocket, the receiving page gets exactly ${sends.length} messages: ${sends.map((s) => `"${s}"`).join(', ')}`,
        true: true,
        why: 'Each send() becomes one message, delivered whole and in order (RFC 6455 §1.2, §6.2).',
      },
      {
        id: 'tcp-joined',
        label: `Over a plain TCP socket, one read could return "${joined}" all at once`,
        true: true,
        why: 'TCP delivers a stream of bytes and keeps no boundaries between writes; reads may join them.',
      },
      {
        id: 'tcp-split',
        label: `Over a plain TCP socket, one read could return just "${joined.slice(0, cut)}"`,
        true: true,
        why: 'A read returns whatever bytes have arrived, so it can also cut a write in two.',
      },
      {
        id: 'ws-joined',
        label: `Over WebSocket, the page may receive "${joined}" as a single message`,
        true: false,
        why: 'WebSocket frames carry their own lengths, so the receiver always knows where a message ends (RFC 6455 §5.2).',
      },
      {
        id: 'ws-reorder',
        label: `Over WebSocket, "${sends[1]}" may arrive before "${sends[0]}"`,
        true: false,
        why: 'Both ride one TCP connection, which keeps bytes in order; messages arrive in the order they were sent.',
      },
    ];
    return { sends, statements: rng.shuffle(statements) };
  },
  prompt: (p) => ({
    text: `A program calls send() ${p.sends.length} times in a row, with ${p.sends.map((s) => `"${s}"`).join(', then ')}. Choose every statement that is true.`,
  }),
  choices: (p) => p.statements.map((s) => ({ id: s.id, label: s.label })),
  hints: () => [
    'TCP promises order and no loss, but says nothing about where one write ends.',
    'A WebSocket frame header holds the payload length: what does that let the receiver do?',
    'Three statements are true: two about TCP, one about WebSocket.',
  ],
  reveal: (p) =>
    p.statements.map((s) => `${s.true ? 'True' : 'False'}: ${s.label}. ${s.why}`).join(' '),
  check: (p, answer) =>
    checkStatements(p.statements, answer, { missed: 'This one is true too:', wrong: 'Not true:' }),
});

type Direction = 'server' | 'client';

interface HeaderParams {
  count: number;
  size: number;
  direction: Direction;
}

/** Header bytes of one frame (RFC 6455 §5.2): 2, plus 2 or 8 for long lengths, plus 4 for a mask. */
export function frameHeaderBytes(size: number, masked: boolean): number {
  const length = size <= 125 ? 0 : size <= 0xffff ? 2 : 8;
  return 2 + length + (masked ? 4 : 0);
}

function drawSize(rng: Rng): number {
  return rng.pick([rng.int(1, 125), rng.int(126, 65_535), rng.int(65_536, 1_000_000)]);
}

const headerBytes = defineExercise<HeaderParams>({
  id: 'big-picture-header-bytes',
  chapter: 'big-picture',
  kind: 'short-answer',
  title: 'What do the frame headers cost?',
  label: 'Header bytes in all',
  generate: (rng) => ({
    // From 4: with 3 small client frames, "3 × 2" and "one header of 6" would be the same slip.
    count: rng.int(4, 60),
    size: drawSize(rng),
    direction: rng.pick<Direction>(['server', 'client']),
  }),
  prompt: (p) => ({
    text: `Over one open WebSocket, the ${p.direction === 'server' ? 'server sends the browser' : 'browser sends the server'} ${p.count} text messages of ${p.size.toLocaleString('en')} bytes each, one frame per message. How many bytes of frame headers cross the wire for them, in all? (Not counting the payload or the handshake.)`,
  }),
  hints: (p) => [
    'A frame header is 2 bytes, plus an extended length when the payload is long, plus a masking key when the frame is masked (RFC 6455 §5.2).',
    p.direction === 'client'
      ? 'Frames from a client are always masked: 4 more bytes each (RFC 6455 §5.3).'
      : 'Frames from a server are never masked (RFC 6455 §5.1).',
    `A payload of ${p.size.toLocaleString('en')} bytes needs ${p.size <= 125 ? 'no extended length (it fits in 7 bits)' : p.size <= 0xffff ? 'the 16-bit extended length (126 in the 7-bit field)' : 'the 64-bit extended length (127 in the 7-bit field)'}.`,
  ],
  reveal: (p) => {
    const each = frameHeaderBytes(p.size, p.direction === 'client');
    return `${p.count * each} bytes: ${p.count} frames × ${each} header bytes each.`;
  },
  check: (p, answer) => {
    const read = readInteger(answer);
    if (!read.ok) return { correct: false, feedback: read.why };
    const masked = p.direction === 'client';
    const each = frameHeaderBytes(p.size, masked);
    const got = read.value;
    if (got === p.count * each) return OK;
    if (got === each) {
      return {
        correct: false,
        feedback: `${each} bytes is one frame's header; there are ${p.count} frames.`,
      };
    }
    if (got === p.count * frameHeaderBytes(p.size, !masked)) {
      return {
        correct: false,
        feedback: masked
          ? 'Client frames carry a 4-byte masking key: every frame from a browser is masked (RFC 6455 §5.3).'
          : 'Server frames carry no masking key: a server must not mask (RFC 6455 §5.1).',
      };
    }
    if (got === p.count * (2 + (masked ? 4 : 0))) {
      return {
        correct: false,
        feedback: `A payload of ${p.size.toLocaleString('en')} bytes does not fit in the 7-bit length: it needs an extended length of ${p.size <= 0xffff ? 2 : 8} bytes (RFC 6455 §5.2).`,
      };
    }
    if (got >= p.count * p.size) {
      return {
        correct: false,
        feedback: 'That counts the payload too; only the header bytes are asked for.',
      };
    }
    return {
      correct: false,
      feedback: `Not ${got}. Work out one frame's header (2 bytes, an extended length if needed, a masking key if masked), then multiply by ${p.count}.`,
    };
  },
});

interface PollingParams {
  seconds: number;
  minutes: number;
  news: number;
}

const polling = defineExercise<PollingParams>({
  id: 'big-picture-polling',
  chapter: 'big-picture',
  kind: 'short-answer',
  title: 'How much does polling waste?',
  label: 'Requests that found nothing new',
  generate: (rng) => {
    const seconds = rng.pick([2, 3, 5, 10, 15, 20, 30]);
    const minutes = rng.int(2, 30);
    const requests = (minutes * 60) / seconds;
    return { seconds, minutes, news: rng.int(1, Math.max(1, Math.floor(requests / 4))) };
  },
  prompt: (p) => ({
    text: `A page polls the server with a fetch every ${p.seconds} seconds for ${p.minutes} minutes. In that time there is news ${p.news} times, never twice between two polls. How many of the requests came back with nothing new?`,
  }),
  hints: (p) => [
    `First count the requests: ${p.minutes} minutes at one every ${p.seconds} seconds.`,
    `That is ${(p.minutes * 60) / p.seconds} requests; ${p.news} of them carried news.`,
    'Subtract: every other request paid its full request and response headers for nothing.',
  ],
  reveal: (p) => {
    const total = (p.minutes * 60) / p.seconds;
    return `${total - p.news} of ${total} requests (${p.minutes} × 60 / ${p.seconds} = ${total}, minus the ${p.news} with news).`;
  },
  check: (p, answer) => {
    const read = readInteger(answer);
    if (!read.ok) return { correct: false, feedback: read.why };
    const total = (p.minutes * 60) / p.seconds;
    if (read.value === total - p.news) return OK;
    if (read.value === total) {
      return {
        correct: false,
        feedback: `${total} is every request; ${p.news} of them did bring news.`,
      };
    }
    if (read.value === p.news)
      return {
        correct: false,
        feedback: `${p.news} requests brought news; the question asks for the others.`,
      };
    if (read.value === p.minutes * p.seconds - p.news || read.value === p.minutes * p.seconds) {
      return {
        correct: false,
        feedback: `Count requests as time divided by the interval: ${p.minutes} × 60 seconds / ${p.seconds} seconds.`,
      };
    }
    return {
      correct: false,
      feedback: `Not ${read.value}. Count all the requests first, then take away those that brought news.`,
    };
  },
});

const LONG_POLL: readonly Choice[] = [
  { id: 'request', label: 'The browser sends a request for news' },
  { id: 'hold', label: 'The server holds the request open, answering nothing yet' },
  { id: 'event', label: 'Something happens on the server' },
  { id: 'respond', label: 'The server answers the held request with the news' },
  { id: 'again', label: 'The browser sends a new request, to be held in turn' },
];

const longPolling = defineExercise<{ items: Choice[] }>({
  id: 'big-picture-long-polling',
  chapter: 'big-picture',
  kind: 'ordering',
  title: 'The steps of long polling',
  generate: (rng) => {
    let items = rng.shuffle(LONG_POLL);
    while (items.every((item, i) => item.id === LONG_POLL[i]?.id)) items = rng.shuffle(items);
    return { items };
  },
  prompt: () => ({
    text: 'Long polling lets a server "push" over plain HTTP requests and responses. Put one round of it in order.',
  }),
  items: (p) => p.items,
  hints: () => [
    'In HTTP the client always speaks first; the server can only answer.',
    'The server cannot answer until it has something to say.',
    'Once the answer arrives, the browser has no open request left.',
  ],
  reveal: () => LONG_POLL.map((item, i) => `${i + 1}. ${item.label}`).join(' '),
  check: (_p, answer) => {
    const expected = LONG_POLL.map((item) => item.id);
    const wrong = answer.filter((id, i) => expected[i] !== id);
    if (wrong.length === 0 && answer.length === expected.length) return OK;
    const first = answer.findIndex((id, i) => expected[i] !== id);
    return {
      correct: false,
      feedback: `${wrong.length} of ${expected.length} steps are out of place. Step ${first + 1} should be: "${LONG_POLL[first]?.label ?? ''}".`,
      wrong,
    };
  },
});

interface OneConnectionParams {
  word: string;
  count: number;
}

/** The text messages the learner's browser sent, per connection, in order. */
function sentTexts(events: readonly LabEvent[]): Map<number, string[]> {
  const byConn = new Map<number, string[]>();
  for (const event of events) {
    if (event.type !== 'message' || event.direction !== 'client-to-server') continue;
    if (event.message.type !== 'text') continue;
    const list = byConn.get(event.conn) ?? [];
    list.push(event.message.text ?? '');
    byConn.set(event.conn, list);
  }
  return byConn;
}

const oneConnection = defineExercise<OneConnectionParams>({
  id: 'big-picture-one-connection',
  chapter: 'big-picture',
  kind: 'live',
  title: 'Many messages, one connection',
  labPath: '/console/',
  generate: (rng) => ({ word: rng.pick(WORDS), count: rng.int(3, 5) }),
  prompt: (p) => ({
    text: `With the live console (or your own code), send the text message "${p.word}" ${p.count} times to the lab server's /echo, all on one connection. The lab server checks what it saw: ${p.count} messages, one TCP connection, no new handshake between them.`,
    code: `const ws = new WebSocket('ws://127.0.0.1:6455/echo');\nws.onopen = () => { for (let i = 0; i < ${p.count}; i++) ws.send('${p.word}'); };`,
  }),
  hints: (p) => [
    'In the live console, type the word in the composer and press "Send text" once per message; do not reconnect in between.',
    `Each send must be exactly "${p.word}": no spaces, no newline.`,
    `If you reconnected, press "Start over" here and send all ${p.count} messages on the new connection.`,
  ],
  reveal: (p) =>
    `Open one WebSocket to /echo and call send("${p.word}") ${p.count} times on it. The lab server then shows one connection-opened, one handshake and ${p.count} text frames from the client.`,
  check: (p, events) => {
    const byConn = sentTexts(events);
    if (byConn.size === 0) return null;
    for (const [conn, texts] of byConn) {
      const other = texts.find((text) => text !== p.word);
      if (other !== undefined) {
        return {
          correct: false,
          feedback: `Connection ${conn} carried the message "${other.slice(0, 40)}", not "${p.word}". Send exactly "${p.word}".`,
        };
      }
      if (texts.length > p.count) {
        return {
          correct: false,
          feedback: `Connection ${conn} carried ${texts.length} messages; the task asks for exactly ${p.count}. Press "Start over" and try again on a new connection.`,
        };
      }
      if (texts.length === p.count) return OK;
    }
    if (byConn.size > 1) {
      const counts = [...byConn.values()].map((texts) => texts.length).join(' + ');
      return {
        correct: false,
        feedback: `Your messages went over ${byConn.size} connections (${counts}). The point is that one WebSocket connection carries them all: send the ${p.count} messages without reconnecting.`,
      };
    }
    // Fewer than `count` so far on the one connection: still in progress, not a wrong try.
    return null;
  },
});

interface FrameParams {
  word: string;
  maskingKey: number[];
}

function frameBytes(p: FrameParams): Uint8Array {
  return encodeFrame({
    fin: true,
    opcode: 1,
    payload: p.word,
    maskingKey: Uint8Array.from(p.maskingKey),
  });
}

const FRAME_FIELDS = [
  { name: 'fin', label: 'FIN', placeholder: '0 or 1' },
  { name: 'opcode', label: 'opcode', placeholder: 'a number, e.g. 0x2' },
  { name: 'mask', label: 'MASK', placeholder: '0 or 1' },
  { name: 'payloadLength', label: 'Payload length', placeholder: 'bytes' },
  { name: 'maskingKey', label: 'Masking key', placeholder: 'hex, 4 bytes' },
] as const;

const readFrame = defineExercise<FrameParams>({
  id: 'big-picture-read-a-frame',
  chapter: 'big-picture',
  kind: 'frame-fields',
  title: 'Read the header of a real frame',
  generate: (rng) => ({ word: rng.pick(WORDS), maskingKey: [...rng.bytes(4)] }),
  prompt: (p) => ({
    text: `A browser sent this frame for ws.send("${p.word}"), like the hello frame above. Read its header: the first byte holds FIN and the opcode, the second MASK and the payload length, then come four bytes of masking key (RFC 6455 §5.2).`,
    code: toHex(frameBytes(p), ' '),
  }),
  fields: () => FRAME_FIELDS,
  hints: (p) => [
    `Write the first byte, ${toHex(frameBytes(p).subarray(0, 1))}, in bits: its top bit is FIN, its low four bits the opcode.`,
    `The second byte, ${toHex(frameBytes(p).subarray(1, 2))}, is MASK (top bit) and a 7-bit length: subtract 0x80 if MASK is set.`,
    'The masking key is the four bytes right after the second byte; the payload follows it.',
  ],
  reveal: (p) =>
    `FIN 1, opcode 1 (text), MASK 1, payload length ${p.word.length}, masking key ${toHex(Uint8Array.from(p.maskingKey), ' ')}.`,
  check: (p, answer) => {
    const wrong: string[] = [];
    const notes: string[] = [];
    const fin = readBit(answer.fin ?? '');
    if (!fin.ok || fin.value !== 1) {
      wrong.push('fin');
      notes.push(
        fin.ok
          ? 'FIN: the top bit of the first byte is 1, so this frame ends its message.'
          : `FIN: ${fin.why}`,
      );
    }
    const opcode = readInteger(answer.opcode ?? '');
    if (!opcode.ok || opcode.value !== 1) {
      wrong.push('opcode');
      notes.push(
        !opcode.ok
          ? `opcode: ${opcode.why}`
          : opcode.value === 0x81
            ? 'opcode: 0x81 is the whole first byte; the opcode is only its low four bits.'
            : `opcode: ${opcode.value} is not it; the low four bits of the first byte give 1 (a text frame, RFC 6455 §5.2).`,
      );
    }
    const mask = readBit(answer.mask ?? '');
    if (!mask.ok || mask.value !== 1) {
      wrong.push('mask');
      notes.push(
        mask.ok
          ? 'MASK: the top bit of the second byte is 1; every frame from a browser is masked (RFC 6455 §5.3).'
          : `MASK: ${mask.why}`,
      );
    }
    const length = readInteger(answer.payloadLength ?? '');
    if (!length.ok || length.value !== p.word.length) {
      wrong.push('payloadLength');
      const total = frameBytes(p).length;
      notes.push(
        !length.ok
          ? `Payload length: ${length.why}`
          : length.value === p.word.length + 0x80
            ? 'Payload length: that includes the MASK bit; the length is the low seven bits of the second byte.'
            : length.value === total
              ? 'Payload length: that is the whole frame; the length counts only the payload after the masking key.'
              : `Payload length: not ${length.value}; read the low seven bits of the second byte.`,
      );
    }
    const key = readHex(answer.maskingKey ?? '');
    if (!key.ok || !sameBytes(key.value, Uint8Array.from(p.maskingKey))) {
      wrong.push('maskingKey');
      notes.push(
        key.ok
          ? key.value.length !== 4
            ? `Masking key: it is 4 bytes; you gave ${key.value.length}.`
            : 'Masking key: take the four bytes right after the second byte.'
          : `Masking key: ${key.why}`,
      );
    }
    if (wrong.length === 0) return OK;
    return { correct: false, feedback: notes.join(' '), wrong };
  },
});

export const bigPictureExercises = [
  layer,
  messages,
  readFrame,
  headerBytes,
  polling,
  longPolling,
  oneConnection,
];
