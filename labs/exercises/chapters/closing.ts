/**
 * Chapter 7, Closing: status codes, the close frame's payload, the closing handshake and who
 * sends the first FIN. The live exercises are checked from the lab server's events of the
 * learner's own connections (the close timeline lab makes them). Parameters are plain JSON, as
 * classroom mode stores them.
 */
import type { LabEvent, Side } from '../../../protocol/annotations.ts';
import { closeCodes, describeCloseCode } from '../../../protocol/close-codes.ts';
import { closePayload, encodeFrame } from '../../../protocol/frame-encoder.ts';
import { toHex } from '../../../protocol/frame-parser.ts';
import { readInteger } from '../normalise.ts';
import type { Rng } from '../rng.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

const ok = (): Verdict => ({ correct: true, feedback: '' });
const wrong = (feedback: string, ids?: readonly string[]): Verdict => ({
  correct: false,
  feedback,
  ...(ids === undefined ? {} : { wrong: ids }),
});

const WORDS = [
  'harbour',
  'lantern',
  'orchard',
  'meadow',
  'granite',
  'compass',
  'thunder',
  'velvet',
  'saffron',
  'juniper',
  'marble',
  'pebble',
];

const other = (side: Side): Side => (side === 'client' ? 'server' : 'client');
const nameOf = (code: number): string => describeCloseCode(code).info?.name ?? `code ${code}`;

// ---- 1. which code for this situation -------------------------------------------------------

interface Situation {
  readonly code: number;
  readonly text: string;
}

const SITUATIONS: readonly Situation[] = [
  {
    code: 1000,
    text: 'A chat client is finished: the user pressed "Log out", and the client ends the connection.',
  },
  {
    code: 1000,
    text: 'A file upload over a WebSocket completed and the server has nothing more to say.',
  },
  {
    code: 1001,
    text: 'The server is being restarted for a new release and closes every open WebSocket.',
  },
  {
    code: 1001,
    text: 'The user navigates to another page; the browser closes the old page’s WebSocket.',
  },
  { code: 1002, text: 'A server receives a frame from a client with the MASK bit 0.' },
  {
    code: 1002,
    text: 'A server receives a frame with RSV2 set although no extension was negotiated.',
  },
  { code: 1003, text: 'A server that understands only text messages receives a binary message.' },
  { code: 1007, text: 'A server receives a text message whose bytes are not valid UTF-8.' },
  {
    code: 1008,
    text: 'A user posts to a chat room they are banned from; no more specific code fits.',
  },
  {
    code: 1009,
    text: 'A client sends a 50 MB message to a server that takes at most 1 MB per message.',
  },
  {
    code: 1010,
    text: 'A client requires permessage-deflate, but the server’s 101 did not agree to it; the client gives up.',
  },
  {
    code: 1011,
    text: 'The server’s message handler hits an unexpected error and cannot go on with this connection.',
  },
];

const CODE_CHOICES: readonly Choice[] = [
  1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011,
].map((code) => ({ id: String(code), label: `${code} ${nameOf(code)}` }));

interface CodeParams {
  readonly situation: number;
}

const codeFor = defineExercise<CodeParams>({
  id: 'closing-code-for',
  chapter: 'closing',
  kind: 'choice',
  multiple: false,
  title: 'Which status code fits?',
  generate: (rng) => ({ situation: rng.int(0, SITUATIONS.length - 1) }),
  prompt: (p) => ({
    text: `${(SITUATIONS[p.situation] as Situation).text} Which status code goes in the close frame?`,
  }),
  choices: () => CODE_CHOICES,
  hints: () => [
    'RFC 6455 §7.4.1 gives each code a meaning; pick the most specific one that fits.',
    '1002 is for broken protocol rules, 1007 for data that does not match its type, 1008 is the generic policy code, 1001 is for an endpoint going away.',
    'Two of the choices can never be in a close frame at all (RFC 6455 §7.4.1).',
  ],
  reveal: (p) => {
    const code = (SITUATIONS[p.situation] as Situation).code;
    return `${code} ${nameOf(code)}: ${describeCloseCode(code).info?.meaning ?? ''}`;
  },
  check(p, answer) {
    const chosen = answer[0];
    if (answer.length !== 1 || chosen === undefined) return wrong('Pick one code.');
    const right = (SITUATIONS[p.situation] as Situation).code;
    if (chosen === String(right)) return ok();
    const picked = Number(chosen);
    const info = describeCloseCode(picked).info;
    if (info !== undefined && !info.onWire) {
      return wrong(
        `${picked} ${info.name} is never sent in a close frame: ${info.meaning} (RFC 6455 §7.4.1). The sender of this close frame must put a real code in it.`,
      );
    }
    return wrong(
      `${picked} ${info?.name ?? ''} means: ${info?.meaning ?? 'no assigned meaning'} That is not quite this situation; look for the code whose meaning matches it most specifically (RFC 6455 §7.4.1).`,
    );
  },
});

// ---- 2. decode a close frame's payload -------------------------------------------------------

interface DecodeParams {
  readonly code: number;
  readonly reason: string;
  /** Masked: a client's close frame; null key: a server's. */
  readonly key: readonly number[] | null;
}

const WIRE_CODES = closeCodes.filter((c) => c.onWire && c.code <= 1011).map((c) => c.code);

function closeBytes(p: DecodeParams): Uint8Array {
  return encodeFrame({
    opcode: 0x8,
    payload: closePayload(p.code, p.reason),
    ...(p.key === null ? {} : { maskingKey: Uint8Array.from(p.key) }),
  });
}

const decodeClose = defineExercise<DecodeParams>({
  id: 'closing-decode-close',
  chapter: 'closing',
  kind: 'frame-fields',
  title: 'Read the status code and reason of a close frame',
  generate(rng: Rng): DecodeParams {
    const code = rng.boolean() ? rng.pick(WIRE_CODES) : rng.int(3000, 4999);
    const reason = `${rng.pick(WORDS)} ${rng.int(1, 99)}`;
    return { code, reason, key: rng.boolean() ? [...rng.bytes(4)] : null };
  },
  prompt: (p) => ({
    text: `This is one whole close frame, sent by the ${p.key === null ? 'server (not masked)' : 'client (masked)'}. Which status code and reason does it carry?`,
    code: toHex(closeBytes(p), ' '),
  }),
  fields: () => [
    { name: 'code', label: 'Status code', placeholder: 'a number, e.g. 1000' },
    { name: 'reason', label: 'Reason', placeholder: 'the text, without quotes' },
  ],
  hints: (p) => [
    'Byte 0 is 88 (FIN 1, opcode 0x8, close); byte 1 holds MASK and the payload length. The payload follows the header (RFC 6455 §5.2).',
    p.key === null
      ? 'The payload starts at byte 2: its first 2 bytes are the status code, most significant byte first; the rest is the reason in UTF-8 (RFC 6455 §5.5.1).'
      : 'A client frame is masked: bytes 2-5 are the masking key, and every payload byte must be XORed with key byte (i mod 4) before you read it (RFC 6455 §5.3).',
    `The code's two bytes are ${(p.code >> 8).toString(16).padStart(2, '0')} ${(p.code & 0xff).toString(16).padStart(2, '0')} once unmasked.`,
  ],
  reveal: (p) => `Status code ${p.code}, reason "${p.reason}".`,
  check(p, answer) {
    const problems: string[] = [];
    const fields: string[] = [];
    const code = readInteger(answer.code ?? '');
    const bytes = closeBytes(p);
    const payloadAt = p.key === null ? 2 : 6;
    const raw = ((bytes[payloadAt] ?? 0) << 8) | (bytes[payloadAt + 1] ?? 0);
    if (!code.ok) {
      fields.push('code');
      problems.push(`Status code: ${code.why}`);
    } else if (code.value !== p.code) {
      fields.push('code');
      const swapped = ((p.code & 0xff) << 8) | (p.code >> 8);
      problems.push(
        p.key !== null && code.value === raw
          ? `Status code: ${code.value} comes from the masked bytes. XOR the payload with the masking key first (RFC 6455 §5.3).`
          : code.value === swapped
            ? `Status code: ${code.value} reads the two bytes the wrong way round; the code is in network byte order, most significant byte first (RFC 6455 §5.5.1).`
            : `Status code: ${code.value} is not what the first two payload bytes say (RFC 6455 §5.5.1).`,
      );
    }
    const reason = (answer.reason ?? '').trim().replace(/^"(.*)"$/, '$1');
    if (reason !== p.reason) {
      fields.push('reason');
      problems.push(
        reason === ''
          ? 'Reason: empty. After the 2 code bytes, the rest of the payload is the reason, as UTF-8 text (RFC 6455 §5.5.1).'
          : `Reason: "${reason}" is not the text of the payload after the code${p.key === null ? '' : ' (unmask it first)'} (RFC 6455 §5.5.1).`,
      );
    }
    return problems.length === 0 ? ok() : wrong(problems.join(' '), fields);
  },
});

// ---- 3. the closing handshake in order -------------------------------------------------------

interface OrderParams {
  readonly initiator: Side;
  readonly code: number;
  /** The learner's starting order. */
  readonly start: readonly string[];
}

const STEP_IDS = ['start', 'answer', 'server-fin', 'client-fin', 'time-wait'] as const;

function stepLabel(p: OrderParams, id: string): string {
  const i = p.initiator;
  switch (id) {
    case 'start':
      return `The ${i} sends a close frame with status ${p.code}.`;
    case 'answer':
      return `The ${other(i)} reads it and sends a close frame of its own.`;
    case 'server-fin':
      return 'The server ends its side of the TCP connection: it sends a FIN.';
    case 'client-fin':
      return 'The client reads that FIN and sends its own FIN.';
    default:
      return 'The server keeps the connection in TIME_WAIT for twice the maximum segment lifetime.';
  }
}

function checkSteps(p: OrderParams, answer: readonly string[]): Verdict {
  if (answer.length !== STEP_IDS.length || !STEP_IDS.every((id) => answer.includes(id))) {
    return wrong(`Use each of the ${STEP_IDS.length} steps exactly once.`);
  }
  const at = answer.findIndex((id, i) => id !== STEP_IDS[i]);
  if (at === -1) return ok();
  const misplaced = answer[at] as string;
  const expected = STEP_IDS[at] as string;
  const reasons: Record<string, string> = {
    start: `Everything begins with the ${p.initiator}'s close frame: nothing closes before one side starts the closing handshake (RFC 6455 §7.1.2).`,
    answer: `The ${other(p.initiator)} answers the close frame before anyone ends TCP: an endpoint that received a close frame sends one back, if it has not sent one yet (RFC 6455 §5.5.1).`,
    'server-fin':
      'The server ends TCP once it has both sent and received a close frame, and before the client does (RFC 6455 §7.1.1).',
    'client-fin':
      'The client sends its FIN after it reads the server’s: it waits for the server to close TCP first (RFC 6455 §7.1.1).',
    'time-wait':
      'TIME_WAIT comes last: it is the state of the side that sent the first FIN once both FINs are through (RFC 9293 §3.6).',
  };
  return wrong(
    `Step ${at + 1} of your order ("${stepLabel(p, misplaced)}") is out of place. ${reasons[expected]}`,
    [misplaced],
  );
}

const orderClose = defineExercise<OrderParams>({
  id: 'closing-order-steps',
  chapter: 'closing',
  kind: 'ordering',
  title: 'Put the end of a connection in order',
  generate(rng) {
    const initiator: Side = rng.boolean() ? 'client' : 'server';
    const code = rng.pick([1000, 1001, 4000 + rng.int(0, 999)]);
    let start = rng.shuffle(STEP_IDS);
    while (checkSteps({ initiator, code, start }, start).correct) start = rng.shuffle(STEP_IDS);
    return { initiator, code, start };
  },
  prompt: (p) => ({
    text: `The ${p.initiator} ends a WebSocket connection cleanly, and the server closes TCP as RFC 6455 §7.1.1 recommends. Put the steps in the order they happen.`,
  }),
  items: (p) => p.start.map((id) => ({ id, label: stepLabel(p, id) })),
  hints: () => [
    'The closing handshake (two close frames) comes before TCP is closed (RFC 6455 §7.1.1, §7.1.2).',
    'Which side should send the first FIN? RFC 6455 §7.1.1 says it.',
    'TIME_WAIT belongs to the side that sent the first FIN, once the other FIN has arrived.',
  ],
  reveal: (p) => STEP_IDS.map((id, i) => `${i + 1}. ${stepLabel(p, id)}`).join(' '),
  check: (p, answer) => checkSteps(p, answer),
});

// ---- live: the learner's own connection -------------------------------------------------------

type Ev<T extends LabEvent['type']> = Extract<LabEvent, { type: T }>;

interface Closing {
  readonly conn: number;
  readonly target: string | null;
  readonly frames: readonly Ev<'close-frame'>[];
  readonly fins: readonly Ev<'fin'>[];
  readonly closed: boolean;
}

/** The learner's /echo connections that have closed, newest last. */
function closings(events: readonly LabEvent[]): Closing[] {
  const byConn = new Map<number, LabEvent[]>();
  for (const event of events) {
    if (event.type === 'dropped') continue;
    let list = byConn.get(event.conn);
    if (list === undefined) {
      list = [];
      byConn.set(event.conn, list);
    }
    list.push(event);
  }
  const result: Closing[] = [];
  for (const [conn, list] of byConn) {
    const request = list.find((e): e is Ev<'handshake-request'> => e.type === 'handshake-request');
    const response = list.find(
      (e): e is Ev<'handshake-response'> => e.type === 'handshake-response',
    );
    if (response?.status !== 101) continue;
    const closed = list.some((e) => e.type === 'socket-closed');
    if (!closed) continue;
    result.push({
      conn,
      target: request?.target ?? null,
      frames: list.filter((e): e is Ev<'close-frame'> => e.type === 'close-frame'),
      fins: list.filter((e): e is Ev<'fin'> => e.type === 'fin'),
      closed,
    });
  }
  return result;
}

const side = (d: 'client-to-server' | 'server-to-client'): Side =>
  d === 'client-to-server' ? 'client' : 'server';

/** The best verdict over every closed connection: a correct one wins, else the newest. */
function bestOf(list: readonly Closing[], judge: (c: Closing) => Verdict): Verdict | null {
  let last: Verdict | null = null;
  for (const closing of list) {
    const verdict = judge(closing);
    if (verdict.correct) return verdict;
    last = verdict;
  }
  return last;
}

interface ServerFirstParams {
  readonly code: number;
  readonly reason: string;
}

const liveServerFirst = defineExercise<ServerFirstParams>({
  id: 'closing-live-server-first',
  chapter: 'closing',
  kind: 'live',
  labPath: '/closing/#try-it-the-close-timeline',
  title: 'Make the server close first, with your code and reason',
  generate: (rng) => ({ code: rng.int(4000, 4999), reason: rng.pick(WORDS) }),
  prompt: (p) => ({
    text: `With the close timeline lab (or any client of /echo), make the lab server send the first close frame, with status ${p.code} and reason "${p.reason}", and then the first FIN.`,
  }),
  hints: (p) => [
    'In the lab, choose "The lab server" for the first close frame and "The server" for the first FIN.',
    `Type ${p.code} as the status code and ${p.reason} as the reason.`,
    `Any client works too: ws://127.0.0.1:6455/echo?close=server&code=${p.code}&reason=${p.reason}.`,
  ],
  reveal: (p) =>
    `Open /echo?close=server&after=1&code=${p.code}&reason=${p.reason} (the lab does it for you), send one message, and let the browser answer the close frame.`,
  check: (p, events) =>
    bestOf(closings(events), (c) => {
      const first = c.frames[0];
      if (first === undefined) {
        return wrong(
          `Connection ${c.conn} ended without a close frame. Ask the server to close: /echo?close=server (RFC 6455 §7.1.2).`,
        );
      }
      if (side(first.direction) !== 'server') {
        return wrong(
          `On connection ${c.conn} your browser sent the first close frame (code ${first.code ?? 'none'}). The task asks the lab server to start the closing handshake: choose "The lab server".`,
        );
      }
      if (first.code !== p.code || first.reason !== p.reason) {
        return wrong(
          `The server closed connection ${c.conn} first, with ${first.code ?? 'no code'}${first.reason === '' ? '' : ` "${first.reason}"`}; the task asks for ${p.code} "${p.reason}".`,
        );
      }
      const fin = c.fins[0];
      if (fin === undefined || side(fin.direction) !== 'server') {
        return wrong(
          `The server closed with ${p.code} "${p.reason}", but ${fin === undefined ? 'no FIN was seen' : 'the client sent the first FIN'} on connection ${c.conn}. Leave the FIN to the server (/echo without fin=client), as RFC 6455 §7.1.1 recommends.`,
        );
      }
      return ok();
    }),
});

interface ClientFinParams {
  /** Who starts the closing handshake; the client's FIN must come first either way. */
  readonly initiator: Side;
  /** The status code of the first close frame. */
  readonly code: number;
}

const liveClientFin = defineExercise<ClientFinParams>({
  id: 'closing-live-client-fin',
  chapter: 'closing',
  kind: 'live',
  labPath: '/closing/#try-it-the-close-timeline',
  title: 'Make your browser send the first FIN',
  generate: (rng) => ({
    initiator: rng.boolean() ? 'client' : 'server',
    code: rng.int(4000, 4999),
  }),
  prompt: (p) => ({
    text: `With the close timeline lab, end a connection cleanly where the ${p.initiator === 'client' ? 'browser' : 'lab server'} sends the first close frame, with status ${p.code}, yet the browser (the client) sends the first TCP FIN.`,
  }),
  hints: (p) => [
    'A page cannot send a FIN itself. What does the browser do when the server does not end TCP after the closing handshake?',
    'The lab server holds its FIN with /echo?fin=client: choose "The client: the server waits for it".',
    `And for the close frame choose ${p.initiator === 'client' ? '"Your browser (the client)"' : '"The lab server"'}, with status code ${p.code}.`,
  ],
  reveal: (p) =>
    `Open /echo?${p.initiator === 'server' ? `close=server&after=1&code=${p.code}&` : ''}fin=client${p.initiator === 'client' ? ` and close with ${p.code}` : ''}, and let the closing handshake finish: the browser waits about 2 seconds for the server's FIN, then sends its own.`,
  check: (p, events) =>
    bestOf(closings(events), (c) => {
      const first = c.frames[0];
      if (first === undefined || c.frames.length < 2) {
        return wrong(
          `Connection ${c.conn} ended without a complete closing handshake (${c.frames.length} close frame${c.frames.length === 1 ? '' : 's'}); the task asks for a clean close, both close frames first (RFC 6455 §7.1.2).`,
        );
      }
      if (side(first.direction) !== p.initiator) {
        return wrong(
          `On connection ${c.conn} the ${side(first.direction)} sent the first close frame; the task asks for the ${p.initiator}.`,
        );
      }
      if (first.code !== p.code) {
        return wrong(
          `The first close frame on connection ${c.conn} carried ${first.code ?? 'no status code'}; the task asks for ${p.code}.`,
        );
      }
      const fin = c.fins[0];
      if (fin === undefined)
        return wrong(`No FIN was seen on connection ${c.conn}: the socket was cut.`);
      if (side(fin.direction) !== 'client') {
        return wrong(
          `The server sent the first FIN on connection ${c.conn}, as it does by default (RFC 6455 §7.1.1). Make it wait for the client's: /echo?fin=client.`,
        );
      }
      return ok();
    }),
});

export const closingExercises = [codeFor, decodeClose, orderClose, liveServerFirst, liveClientFin];
