/**
 * Chapter 4, Sec-WebSocket-Accept: compute the accept for a key, find the wrong step in a
 * computation, put the steps in order, tell valid keys from invalid ones, and say what the
 * accept value proves. Keys are drawn from the learner's seed, so every learner hashes their own.
 *
 * Prompts must be worded synchronously, so the digests here come from @noble/hashes' SHA-1;
 * the accept lab and the lab server use WebCrypto through protocol/accept.ts, and the tests
 * check that both agree.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { WEBSOCKET_GUID } from '../../../protocol/accept.ts';
import { readBase64 } from '../normalise.ts';
import type { Rng } from '../rng.ts';
import { type Choice, defineExercise, type Verdict } from '../types.ts';

export function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The three steps of RFC 6455 §4.2.2 (item 5.4), synchronously. */
export function acceptSteps(key: string): {
  concatenated: string;
  sha1Hex: string;
  accept: string;
} {
  const concatenated = key + WEBSOCKET_GUID;
  const digest = sha1(new TextEncoder().encode(concatenated));
  return { concatenated, sha1Hex: hex(digest), accept: toBase64(digest) };
}

/** A key as a client makes one (RFC 6455 §4.1 item 7): 16 random bytes in base64. */
function drawKey(rng: Rng): string {
  return toBase64(rng.bytes(16));
}

const OK: Verdict = { correct: true, feedback: '' };

/** The RFC's own example (RFC 6455 §1.3), which learners sometimes paste instead of their own. */
const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** Recognises the usual slips when computing an accept, to say which step went wrong. */
export function diagnoseAccept(key: string, answer: string): string {
  const compact = answer.replace(/\s+/g, '');
  const steps = acceptSteps(key);
  if (compact.toLowerCase() === steps.sha1Hex) {
    return 'That is the SHA-1 digest written in hex. The last step base64-encodes the 20 digest bytes themselves (RFC 6455 §4.2.2).';
  }
  const b64 = (bytes: Uint8Array) => toBase64(bytes);
  const enc = (text: string) => new TextEncoder().encode(text);
  if (compact === b64(enc(steps.sha1Hex))) {
    return 'You base64-encoded the 40 hex characters. Encode the 20 digest bytes instead: 20 bytes make 28 base64 characters.';
  }
  if (compact === key) return 'That is the key itself; the accept is computed from it.';
  if (compact === RFC_ACCEPT) {
    return `That is the accept for RFC 6455's example key ${RFC_KEY}. Your key is a different one.`;
  }
  if (compact === b64(sha1(enc(key)))) {
    return `You hashed the key alone. Append the GUID ${WEBSOCKET_GUID} to the key before taking SHA-1.`;
  }
  if (compact === b64(sha1(enc(WEBSOCKET_GUID + key)))) {
    return 'You put the GUID first. The key comes first, then the GUID (RFC 6455 §4.2.2: the key concatenated with the GUID).';
  }
  if (compact === b64(sha1(enc(key + WEBSOCKET_GUID.toLowerCase())))) {
    return 'The GUID is written in upper case in RFC 6455 §1.3, and SHA-1 sees every letter: use 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 exactly.';
  }
  const decoded = Uint8Array.from(atob(key), (c) => c.charCodeAt(0));
  const joined = new Uint8Array([...decoded, ...enc(WEBSOCKET_GUID)]);
  if (compact === b64(sha1(joined))) {
    return 'You decoded the key from base64 first. The server uses the key as the text it received, never decoded (RFC 6455 §4.2.2).';
  }
  if (
    compact === b64(sha1(enc(`${key} ${WEBSOCKET_GUID}`))) ||
    compact === b64(sha1(enc(`${key}\n`)))
  ) {
    return 'There is an extra character between or after the key and the GUID: the two are joined with nothing in between.';
  }
  return 'That is not the accept for this key. Check each step: key then GUID with nothing between, SHA-1 of that text, then base64 of the 20-byte digest.';
}

const computeAccept = defineExercise<{ key: string }>({
  id: 'accept-compute',
  chapter: 'accept',
  kind: 'short-answer',
  title: 'Compute the accept value',
  label: 'Sec-WebSocket-Accept',
  generate: (rng) => ({ key: drawKey(rng) }),
  prompt: ({ key }) => ({
    text: 'A client sent this key. What must the server send back as Sec-WebSocket-Accept? (The calculator above may help, but try one step at a time.)',
    code: `Sec-WebSocket-Key: ${key}`,
  }),
  hints: ({ key }) => [
    `Start from the key as text and append the GUID: ${key}${WEBSOCKET_GUID.slice(0, 8)}…`,
    `The SHA-1 digest of that text, in hex, begins with ${acceptSteps(key).sha1Hex.slice(0, 8)}.`,
    `Base64-encode the 20 digest bytes: the answer has 28 characters and starts with ${acceptSteps(key).accept.slice(0, 6)}.`,
  ],
  reveal: ({ key }) => {
    const steps = acceptSteps(key);
    return `${steps.accept} (SHA-1 of "${steps.concatenated}" is ${steps.sha1Hex}; base64 of those 20 bytes).`;
  },
  check: ({ key }, answer) => {
    const compact = answer.replace(/\s+/g, '');
    if (compact.toLowerCase() !== acceptSteps(key).sha1Hex) {
      const read = readBase64(answer);
      if (!read.ok) return { correct: false, feedback: read.why };
      if (read.value === acceptSteps(key).accept) return OK;
    }
    return { correct: false, feedback: diagnoseAccept(key, answer) };
  },
});

type Step = 'concatenation' | 'sha1' | 'base64';

interface WrongStepParams {
  key: string;
  wrong: Step;
  concatenated: string;
  sha1Hex: string;
  accept: string;
  choices: Choice[];
}

const STEP_LABELS: Record<Step, string> = {
  concatenation: 'Step 1, the concatenation',
  sha1: 'Step 2, the SHA-1 digest',
  base64: 'Step 3, the base64 encoding',
};

/** Changes one hex digit of a digest: the kind of slip a copied digest has. */
function alterHex(rng: Rng, sha1Hex: string): string {
  const at = rng.int(0, sha1Hex.length - 1);
  const old = sha1Hex[at] as string;
  const digits = '0123456789abcdef'.replace(old, '');
  return sha1Hex.slice(0, at) + rng.pick([...digits]) + sha1Hex.slice(at + 1);
}

const wrongStep = defineExercise<WrongStepParams>({
  id: 'accept-wrong-step',
  chapter: 'accept',
  kind: 'choice',
  multiple: false,
  title: 'Find the wrong step',
  generate: (rng) => {
    const key = drawKey(rng);
    const right = acceptSteps(key);
    const wrong = rng.pick<Step>(['concatenation', 'sha1', 'base64']);
    let { concatenated, sha1Hex, accept } = right;
    if (wrong === 'concatenation') {
      // The wrong text, hashed and encoded faithfully: only the first step is at fault.
      const slip = rng.pick(['space', 'guid-first', 'lowercase']);
      concatenated =
        slip === 'space'
          ? `${key} ${WEBSOCKET_GUID}`
          : slip === 'guid-first'
            ? WEBSOCKET_GUID + key
            : key + WEBSOCKET_GUID.toLowerCase();
      const digest = sha1(new TextEncoder().encode(concatenated));
      sha1Hex = hex(digest);
      accept = toBase64(digest);
    } else if (wrong === 'sha1') {
      sha1Hex = alterHex(rng, right.sha1Hex);
      accept = toBase64(Uint8Array.from(sha1Hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16)));
    } else {
      accept = toBase64(new TextEncoder().encode(right.sha1Hex.slice(0, 21)));
    }
    const choices = (['concatenation', 'sha1', 'base64'] as const).map((id) => ({
      id,
      label: STEP_LABELS[id],
    }));
    return { key, wrong, concatenated, sha1Hex, accept, choices };
  },
  prompt: (p) => ({
    text: 'Someone computed the accept value for this key by hand. Exactly one step is wrong (each later step was done faithfully from the one before it). Which one?',
    code: [
      `key:            ${p.key}`,
      `1 concatenated: ${p.concatenated}`,
      `2 SHA-1 (hex):  ${p.sha1Hex}`,
      `3 base64:       ${p.accept}`,
    ].join('\n'),
  }),
  choices: (p) => p.choices,
  hints: () => [
    'Check step 1 character by character against key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", with nothing in between.',
    'If step 1 is right, a SHA-1 digest you compute yourself (the calculator above) must match step 2 in all 40 hex digits.',
    'Base64 of 20 bytes is 28 characters ending in one "="; decode step 3 and compare it with step 2.',
  ],
  reveal: (p) => `${STEP_LABELS[p.wrong]} is wrong. ${explainStep(p)}`,
  check: (p, answer) => {
    const chosen = answer[0];
    if (chosen === p.wrong) return OK;
    const text =
      chosen === 'concatenation'
        ? 'The concatenation is right: the key, then the GUID exactly as RFC 6455 §1.3 writes it, nothing between.'
        : chosen === 'sha1'
          ? 'Step 2 is the true SHA-1 of the text in step 1; compare it with the calculator.'
          : 'Step 3 is the base64 of the bytes written in step 2.';
    return { correct: false, feedback: `${text} Look at another step.`, wrong: [chosen ?? ''] };
  },
});

function explainStep(p: WrongStepParams): string {
  const right = acceptSteps(p.key);
  if (p.wrong === 'concatenation') {
    return `The text must be "${right.concatenated}"; with it the digest is ${right.sha1Hex} and the accept ${right.accept}.`;
  }
  if (p.wrong === 'sha1') {
    return `The SHA-1 of step 1 is ${right.sha1Hex}; one digit differs.`;
  }
  return `Base64 of the 20 digest bytes is ${right.accept}; step 3 encoded part of the hex text instead.`;
}

const ORDER_ITEMS: readonly Choice[] = [
  { id: 'read-key', label: 'Read the value of the Sec-WebSocket-Key header, as text' },
  { id: 'append-guid', label: 'Append the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11' },
  { id: 'sha1', label: 'Take the SHA-1 digest of that text (20 bytes)' },
  { id: 'base64', label: 'Encode the 20 bytes in base64 (28 characters)' },
  { id: 'send', label: 'Send the result in the Sec-WebSocket-Accept header of the 101 response' },
  { id: 'client-compares', label: 'The client computes the same value and compares' },
];

const orderSteps = defineExercise<{ items: Choice[] }>({
  id: 'accept-order',
  chapter: 'accept',
  kind: 'ordering',
  title: 'Put the steps in order',
  generate: (rng) => {
    let items = rng.shuffle(ORDER_ITEMS);
    // A shuffle that happens to be the answer teaches nothing.
    while (items.every((item, i) => item.id === ORDER_ITEMS[i]?.id)) items = rng.shuffle(items);
    return { items };
  },
  prompt: () => ({
    text: 'From the key the client sent to a client that trusts the answer: put these steps of the opening handshake in order (RFC 6455 §4.2.2 and §4.1).',
  }),
  items: (p) => p.items,
  hints: () => [
    'Nothing is decoded: the key is used as the text the client sent.',
    'The digest comes before the encoding, and the server sends before the client can check.',
    'Order: read, append, SHA-1, base64, send, compare.',
  ],
  reveal: () => ORDER_ITEMS.map((item, i) => `${i + 1}. ${item.label}`).join(' '),
  check: (_p, answer) => {
    const expected = ORDER_ITEMS.map((item) => item.id);
    const wrong = answer.filter((id, i) => expected[i] !== id);
    if (wrong.length === 0 && answer.length === expected.length) return OK;
    const firstBad = answer.findIndex((id, i) => expected[i] !== id);
    const should = ORDER_ITEMS[firstBad];
    return {
      correct: false,
      feedback: `${wrong.length} of ${expected.length} steps are out of place. Step ${firstBad + 1} should be: "${should?.label ?? ''}".`,
      wrong,
    };
  },
});

type KeyFlaw = 'valid' | 'short' | 'long' | 'no-padding' | 'url-safe' | 'space' | 'not-base64';

interface KeyCandidate {
  id: string;
  key: string;
  flaw: KeyFlaw;
}

/** Why a candidate key breaks RFC 6455 §4.1 item 7 (checked by the server per §4.2.1 item 5). */
function flawText(candidate: KeyCandidate): string {
  switch (candidate.flaw) {
    case 'valid':
      return `${candidate.key} is valid: 24 base64 characters ending in "==", which decode to 16 bytes.`;
    case 'short':
      return `${candidate.key} decodes to 12 bytes; the key must be 16 random bytes (RFC 6455 §4.1 item 7).`;
    case 'long':
      return `${candidate.key} decodes to 20 bytes; the key must be 16 bytes, no more (RFC 6455 §4.1 item 7).`;
    case 'no-padding':
      return `${candidate.key} has no "==" padding: 16 bytes in base64 are 22 characters plus "==" (RFC 4648 §4), and the key must be padded base64.`;
    case 'url-safe':
      return `${candidate.key} uses "-" or "_", the URL-safe alphabet (RFC 4648 §5); the key uses standard base64 with "+" and "/".`;
    case 'space':
      return `"${candidate.key}" has a space inside it, which is not a base64 character.`;
    case 'not-base64':
      return `${candidate.key} is not base64 at all: "=" may only pad the end.`;
  }
}

function drawCandidate(rng: Rng, flaw: KeyFlaw): string {
  const key = drawKey(rng);
  switch (flaw) {
    case 'valid':
      return key;
    case 'short':
      return toBase64(rng.bytes(12));
    case 'long':
      return toBase64(rng.bytes(20));
    case 'no-padding':
      return key.slice(0, 22);
    case 'url-safe': {
      const at = rng.int(0, 21);
      return `${key.slice(0, at)}${rng.pick(['-', '_'])}${key.slice(at + 1)}`;
    }
    case 'space': {
      const at = rng.int(4, 18);
      return `${key.slice(0, at)} ${key.slice(at + 1)}`;
    }
    case 'not-base64': {
      const at = rng.int(4, 18);
      return `${key.slice(0, at)}=${key.slice(at + 1)}`;
    }
  }
}

const validKeys = defineExercise<{ candidates: KeyCandidate[] }>({
  id: 'accept-valid-keys',
  chapter: 'accept',
  kind: 'choice',
  multiple: true,
  title: 'Which keys may a server accept?',
  generate: (rng) => {
    const flaws = rng
      .shuffle<KeyFlaw>(['short', 'long', 'no-padding', 'url-safe', 'space', 'not-base64'])
      .slice(0, rng.int(2, 3));
    const valid = rng.int(1, 2);
    const all = rng.shuffle<KeyFlaw>([...flaws, ...Array<KeyFlaw>(valid).fill('valid')]);
    return {
      candidates: all.map((flaw, i) => ({ id: `k${i}`, key: drawCandidate(rng, flaw), flaw })),
    };
  },
  prompt: () => ({
    text: 'A server must refuse an opening handshake whose Sec-WebSocket-Key is not a base64-encoded 16-byte value (RFC 6455 §4.2.1 item 5). Choose every key below that it may accept.',
  }),
  choices: (p) => p.candidates.map((c) => ({ id: c.id, label: c.key })),
  hints: () => [
    '16 bytes in base64 are always 24 characters, the last two "=".',
    'Standard base64 (RFC 4648 §4) uses A-Z, a-z, 0-9, "+" and "/" only; "=" only at the end.',
    'Count the characters before the padding: exactly 22.',
  ],
  reveal: (p) => p.candidates.map(flawText).join(' '),
  check: (p, answer) => {
    const chosen = new Set(answer);
    const wrong = p.candidates.filter((c) => chosen.has(c.id) !== (c.flaw === 'valid'));
    if (wrong.length === 0) return OK;
    const picked = wrong.filter((c) => c.flaw !== 'valid');
    const missed = wrong.filter((c) => c.flaw === 'valid');
    const parts = [
      ...picked.map(flawText),
      ...(missed.length > 0
        ? [
            `${missed.length === 1 ? 'One valid key was' : `${missed.length} valid keys were`} left out.`,
          ]
        : []),
    ];
    return { correct: false, feedback: parts.join(' '), wrong: wrong.map((c) => c.id) };
  },
});

interface PurposeStatement {
  id: string;
  label: string;
  true: boolean;
  why: string;
}

const PURPOSE: readonly PurposeStatement[] = [
  {
    id: 'speaks-websocket',
    label: 'The server read this handshake and speaks WebSocket',
    true: true,
    why: 'Only a server that knows RFC 6455 appends the GUID and hashes (RFC 6455 §1.3).',
  },
  {
    id: 'not-cached',
    label: 'The 101 is not a cached or replayed response to an earlier request',
    true: true,
    why: 'The key is new for each connection, so an old response carries the wrong accept (a fresh nonce for every connection, RFC 6455 §4.1 item 7).',
  },
  {
    id: 'authenticates',
    label: 'The server is who it claims to be',
    true: false,
    why: 'Anyone can compute the accept: the GUID is public. Identity comes from TLS certificates (wss://).',
  },
  {
    id: 'encrypts',
    label: 'The messages that follow are encrypted',
    true: false,
    why: 'Nothing is encrypted by the handshake; masking is not encryption either. Only TLS (wss://) encrypts.',
  },
  {
    id: 'origin',
    label: 'Other web sites cannot connect to this server',
    true: false,
    why: 'That is the server checking the Origin header (RFC 6455 §10.2), not the accept value.',
  },
  {
    id: 'client-secret',
    label: 'The client holds a secret that the server verified',
    true: false,
    why: 'The key is sent in the clear and is not a secret; it only has to be fresh.',
  },
];

const purpose = defineExercise<{ statements: PurposeStatement[] }>({
  id: 'accept-what-it-proves',
  chapter: 'accept',
  kind: 'choice',
  multiple: true,
  title: 'What does a correct accept prove?',
  generate: (rng) => ({ statements: rng.shuffle(PURPOSE) }),
  prompt: () => ({
    text: 'The client received a 101 whose Sec-WebSocket-Accept matches its key. Choose every statement this proves.',
  }),
  choices: (p) => p.statements.map((s) => ({ id: s.id, label: s.label })),
  hints: () => [
    'The GUID is printed in the RFC: who could compute the value?',
    'Think about what is new for every connection, and what a cache would send back.',
    'Two statements are proven; the rest need TLS or an Origin check.',
  ],
  reveal: (p) =>
    p.statements.map((s) => `${s.true ? 'Proven' : 'Not proven'}: ${s.label}. ${s.why}`).join(' '),
  check: (p, answer) => {
    const chosen = new Set(answer);
    const wrong = p.statements.filter((s) => chosen.has(s.id) !== s.true);
    if (wrong.length === 0) return OK;
    const feedback = wrong
      .map((s) =>
        s.true ? `You left out a true one: "${s.label}". ${s.why}` : `"${s.label}": no. ${s.why}`,
      )
      .join(' ');
    return { correct: false, feedback, wrong: wrong.map((s) => s.id) };
  },
});

export const acceptExercises = [computeAccept, wrongStep, orderSteps, validKeys, purpose];
