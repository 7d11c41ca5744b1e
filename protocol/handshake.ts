/**
 * The opening handshake of RFC 6455 §4 (HTTP heads are parsed by http-head.ts): the
 * server's checks of a client's upgrade request (§4.2.1), the response it must send (§4.2.2), and
 * the client's checks of that response (§4.1). Findings are data with explanations, never throws.
 */

import { type AcceptSteps, base64DecodedLength, computeAccept, isValidKey } from './accept.ts';
import {
  getHeader,
  type HeaderField,
  headerFields,
  parseList,
  quote,
  type RequestHead,
  type ResponseHead,
  TCHAR,
  TOKEN,
  trimOws,
} from './http-head.ts';

export interface ExtensionParam {
  readonly name: string;
  /** null for a parameter without a value, e.g. `client_max_window_bits`. */
  readonly value: string | null;
}

export interface Extension {
  readonly name: string;
  readonly params: readonly ExtensionParam[];
}

const PARAM = new RegExp(
  `^(${TCHAR}+)(?:[ \\t]*=[ \\t]*(?:(${TCHAR}+)|"((?:[^"\\\\]|\\\\.)*)"))?$`,
);

/**
 * Sec-WebSocket-Extensions (RFC 6455 §9.1): `name; param; param=value, name2`. Null when the value
 * breaks the grammar, including a value that is empty or only commas (the list is `1#extension`).
 */
export function parseExtensions(value: string): Extension[] | null {
  const extensions: Extension[] = [];
  const elements = splitOutsideQuotes(value, ',');
  if (elements === null) return null;
  for (const element of elements) {
    if (trimOws(element) === '') continue;
    const [name = '', ...params] = (splitOutsideQuotes(element, ';') ?? []).map(trimOws);
    if (!TOKEN.test(name)) return null;
    const parsed: ExtensionParam[] = [];
    for (const param of params) {
      const match = PARAM.exec(param);
      // A quoted value must still be a token once unescaped (RFC 6455 §9.1).
      const paramValue = match?.[2] ?? match?.[3]?.replace(/\\(.)/g, '$1') ?? null;
      if (!match || (paramValue !== null && !TOKEN.test(paramValue))) return null;
      parsed.push({ name: match[1] ?? '', value: paramValue });
    }
    extensions.push({ name, params: parsed });
  }
  return extensions.length === 0 ? null : extensions;
}

function splitOutsideQuotes(value: string, separator: string): string[] | null {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return null;
  parts.push(value.slice(start));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// What each handshake header means, written once for every view of the product
// ---------------------------------------------------------------------------------------------

export interface HeaderExplanation {
  /** The usual spelling. */
  readonly name: string;
  readonly section: string;
  /** Its meaning in the client's request, when it belongs there. */
  readonly request?: string;
  /** Its meaning in the server's response, when it belongs there. */
  readonly response?: string;
}

export const headerExplanations = {
  host: {
    name: 'Host',
    section: 'RFC 6455 §4.1, §4.2.1; RFC 9112 §3.2',
    request:
      'The host (and port) the client wants to reach. A server checks it against the names it answers to, which defeats DNS rebinding.',
  },
  upgrade: {
    name: 'Upgrade',
    section: 'RFC 6455 §4.1, §4.2.2; RFC 9110 §7.8',
    request: 'The protocol the client asks to switch this connection to: websocket.',
    response:
      'The protocol the connection speaks once this response ends: websocket. A 426 response uses it to name the protocol it requires.',
  },
  connection: {
    name: 'Connection',
    section: 'RFC 6455 §4.1, §4.2.2; RFC 9110 §7.6.1',
    request:
      'Names the headers meant for this hop only (RFC 9110 §7.6.1). A handshake must list Upgrade here, so that a proxy does not pass the Upgrade header on blindly; a value without it (close, keep-alive) is no handshake.',
    response: 'Upgrade: after this response the connection stops speaking HTTP.',
  },
  'sec-websocket-key': {
    name: 'Sec-WebSocket-Key',
    section: 'RFC 6455 §4.1, §11.3.1',
    request:
      'A fresh nonce: 16 random bytes, base64-encoded. The server must hash it into Sec-WebSocket-Accept, proving it understood this WebSocket handshake.',
  },
  'sec-websocket-accept': {
    name: 'Sec-WebSocket-Accept',
    section: 'RFC 6455 §4.2.2, §11.3.3',
    response:
      'base64(SHA-1(Sec-WebSocket-Key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): proof that the server read this very request, so a cached or non-WebSocket response is never taken for an acceptance.',
  },
  'sec-websocket-version': {
    name: 'Sec-WebSocket-Version',
    section: 'RFC 6455 §4.1, §4.4, §11.3.5',
    request: 'The protocol version the client speaks: 13, the only version RFC 6455 defines.',
    response:
      'Sent with a refusal (426 Upgrade Required): the versions the server does speak, so the client can retry with one of them.',
  },
  origin: {
    name: 'Origin',
    section: 'RFC 6455 §4.1, §10.2; RFC 6454',
    request:
      'The origin of the page that opened the socket, sent by every browser. A server compares it with an allow list so other sites cannot drive it (cross-site WebSocket hijacking).',
  },
  'sec-websocket-protocol': {
    name: 'Sec-WebSocket-Protocol',
    section: 'RFC 6455 §4.1, §4.2.2, §11.3.4',
    request: 'The subprotocols the client can speak on top of WebSocket, in order of preference.',
    response: "The one subprotocol the server selected from the client's list.",
  },
  'sec-websocket-extensions': {
    name: 'Sec-WebSocket-Extensions',
    section: 'RFC 6455 §9.1, §11.3.2',
    request:
      'The extensions the client offers, with parameters, e.g. permessage-deflate (RFC 7692).',
    response: "The extensions the server accepted, chosen from the client's offers only.",
  },
} as const satisfies Record<string, HeaderExplanation>;

/** The explanation of a header by any spelling of its name, or undefined for other headers. */
export function explainHeader(name: string): HeaderExplanation | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(headerExplanations, key)
    ? headerExplanations[key as keyof typeof headerExplanations]
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Server side: reading the client's handshake (RFC 6455 §4.2.1)
// ---------------------------------------------------------------------------------------------

export interface HandshakeFinding {
  /** Stable identifier, e.g. `request-key`; the same whether the rule held or not. */
  readonly rule: string;
  readonly section: string;
  readonly ok: boolean;
  /** True for what is noted rather than required (Origin); such a finding never fails. */
  readonly informational: boolean;
  readonly explanation: string;
  /** The HTTP status a server answers when this rule fails. */
  readonly status?: number;
  /** The header the rule is about. */
  readonly header?: string;
  readonly expected?: string;
  readonly got?: string;
  /** Parsed list values, e.g. the subprotocols offered. */
  readonly values?: readonly string[];
}

const SERVER_RULES = 'RFC 6455 §4.2.1';
const CLIENT_RULES = 'RFC 6455 §4.1';

type FindingDetails = Pick<HandshakeFinding, 'header' | 'expected' | 'got' | 'values'>;

function pass(
  rule: string,
  section: string,
  explanation: string,
  details: FindingDetails = {},
): HandshakeFinding {
  return { rule, section, ok: true, informational: false, explanation, ...details };
}

function failure(
  rule: string,
  section: string,
  status: number,
  explanation: string,
  details: FindingDetails = {},
): HandshakeFinding {
  return { rule, section, ok: false, informational: false, explanation, status, ...details };
}

/** A failed check of the server's response: the client has no status to answer, it just fails. */
function clientFailure(
  rule: string,
  explanation: string,
  details: FindingDetails = {},
): HandshakeFinding {
  return { rule, section: CLIENT_RULES, ok: false, informational: false, explanation, ...details };
}

/** One finding per rule of RFC 6455 §4.2.1 (the client's duties are in §4.1), in that order. */
export function validateUpgradeRequest(request: RequestHead): HandshakeFinding[] {
  return [
    checkMethod(request),
    checkHttpVersion(request),
    checkTarget(request),
    checkHost(request),
    checkRequestUpgrade(request),
    checkRequestConnection(request),
    checkKey(request),
    checkVersion(request),
    checkOrigin(request),
    checkRequestProtocols(request),
    checkRequestExtensions(request),
  ];
}

function checkMethod({ method }: RequestHead): HandshakeFinding {
  if (method === 'GET') {
    return pass(
      'request-method-get',
      SERVER_RULES,
      'The method is GET, as an opening handshake must be.',
    );
  }
  const caseHint =
    method.toUpperCase() === 'GET' ? ' Methods are case-sensitive (RFC 9110 §9.1).' : '';
  // RFC 6455 §4.2.1 asks for "an appropriate error code (such as 400 Bad Request)"; ws answers
  // 405, which RFC 9110 §15.5.6 would also oblige to carry an Allow header.
  return failure(
    'request-method-get',
    SERVER_RULES,
    400,
    `The method is ${quote(method)}, but an opening handshake must be a GET request (RFC 6455 §4.1), so the server answers 400 Bad Request.${caseHint}`,
    { expected: 'GET', got: method },
  );
}

function checkHttpVersion({ version }: RequestHead): HandshakeFinding {
  const [major = 0, minor = 0] = version.slice(5).split('.').map(Number);
  if (major > 1 || (major === 1 && minor >= 1)) {
    return pass(
      'request-http-version',
      SERVER_RULES,
      `${version} is HTTP/1.1 or later, as required.`,
    );
  }
  return failure(
    'request-http-version',
    SERVER_RULES,
    400,
    `The request says ${version}; the upgrade needs HTTP/1.1 or later, where Upgrade and Connection are defined (RFC 9110 §7.8). Send GET <path> HTTP/1.1.`,
    { expected: 'HTTP/1.1', got: version },
  );
}

function checkTarget({ target }: RequestHead): HandshakeFinding {
  if (target.includes('#')) {
    return failure(
      'request-target',
      SERVER_RULES,
      400,
      `The request-target ${quote(target)} contains #; WebSocket URIs have no fragment, so a literal # must be escaped as %23 (RFC 6455 §3).`,
      { got: target },
    );
  }
  if (target.startsWith('/') || /^(?:https?|wss?):\/\//i.test(target)) {
    return pass(
      'request-target',
      SERVER_RULES,
      `The request-target ${quote(target)} names the resource (path and query of the ws:// URL).`,
    );
  }
  return failure(
    'request-target',
    SERVER_RULES,
    400,
    `The request-target ${quote(target)} is not a resource name; send the path and query of the ws:// URL, e.g. GET /chat (RFC 6455 §3, §4.1).`,
    { got: target },
  );
}

function checkHost(request: RequestHead): HandshakeFinding {
  const fields = headerFields(request, 'host');
  const header = 'Host';
  if (fields.length === 0) {
    return failure(
      'request-host',
      SERVER_RULES,
      400,
      'There is no Host header; HTTP/1.1 requires one (RFC 9112 §3.2) and the server checks it names this server. Add Host: <host>[:port].',
      { header },
    );
  }
  if (fields.length > 1) {
    return failure(
      'request-host',
      SERVER_RULES,
      400,
      `There are ${fields.length} Host headers; a server must reject a request with more than one (RFC 9112 §3.2), since it cannot tell which host is meant.`,
      { header },
    );
  }
  const host = fields[0]?.value ?? '';
  return pass(
    'request-host',
    SERVER_RULES,
    `Host: ${host} names the server the client wants; a server answers only to its own names, which stops DNS rebinding.`,
    { header, got: host },
  );
}

function checkRequestUpgrade(request: RequestHead): HandshakeFinding {
  const value = getHeader(request, 'upgrade');
  const header = 'Upgrade';
  if (value === undefined) {
    // Without Upgrade this is a plain HTTP request to a WebSocket endpoint: 426 Upgrade
    // Required, naming websocket, says what would work (RFC 9110 §15.5.22).
    return failure(
      'request-upgrade',
      SERVER_RULES,
      426,
      'There is no Upgrade header, so this is plain HTTP to a WebSocket endpoint (426 Upgrade Required, RFC 9110 §15.5.22); add Upgrade: websocket so the server knows which protocol the client wants to switch to.',
      { header },
    );
  }
  if (parseList(value).some((protocol) => protocol.toLowerCase() === 'websocket')) {
    return pass(
      'request-upgrade',
      SERVER_RULES,
      `Upgrade: ${value} contains websocket (compared case-insensitively).`,
      { header, got: value },
    );
  }
  return failure(
    'request-upgrade',
    SERVER_RULES,
    400,
    `Upgrade is ${quote(value)}, which does not contain websocket; send Upgrade: websocket.`,
    { header, expected: 'websocket', got: value },
  );
}

function checkRequestConnection(request: RequestHead): HandshakeFinding {
  const value = getHeader(request, 'connection');
  const header = 'Connection';
  if (value === undefined) {
    return failure(
      'request-connection',
      SERVER_RULES,
      400,
      'There is no Connection header; add Connection: Upgrade, without which the Upgrade header is not meant for this hop (RFC 9110 §7.6.1).',
      { header },
    );
  }
  if (hasToken(value, 'upgrade')) {
    return pass(
      'request-connection',
      SERVER_RULES,
      `Connection: ${value} contains the token Upgrade (compared case-insensitively).`,
      { header, got: value },
    );
  }
  return failure(
    'request-connection',
    SERVER_RULES,
    400,
    `Connection is ${quote(value)}, which does not contain the token Upgrade; send Connection: Upgrade (a list such as keep-alive, Upgrade also works).`,
    { header, expected: 'Upgrade', got: value },
  );
}

function checkKey(request: RequestHead): HandshakeFinding {
  const fields = headerFields(request, 'sec-websocket-key');
  const header = 'Sec-WebSocket-Key';
  const rule = 'request-key';
  const requirement =
    'RFC 6455 §4.1 requires a base64 value of 16 random bytes, 24 characters ending in ==';
  if (fields.length === 0) {
    return failure(
      rule,
      SERVER_RULES,
      400,
      `There is no Sec-WebSocket-Key header; ${requirement}, e.g. dGhlIHNhbXBsZSBub25jZQ==.`,
      { header },
    );
  }
  if (fields.length > 1) {
    return failure(
      rule,
      SERVER_RULES,
      400,
      `Sec-WebSocket-Key appears ${fields.length} times; it must appear exactly once (RFC 6455 §11.3.1), or the server cannot tell which key to answer.`,
      { header },
    );
  }
  const key = fields[0]?.value ?? '';
  if (isValidKey(key)) {
    return pass(
      rule,
      SERVER_RULES,
      `Sec-WebSocket-Key ${quote(key)} is base64 of 16 bytes; the server hashes it into Sec-WebSocket-Accept (RFC 6455 §4.2.2).`,
      { header, got: key },
    );
  }
  const length = base64DecodedLength(key);
  const defect =
    length === null
      ? 'is not base64'
      : length === 16
        ? 'decodes to 16 bytes but lacks its == padding'
        : `decodes to ${length} byte${length === 1 ? '' : 's'}`;
  return failure(
    rule,
    SERVER_RULES,
    400,
    `The Sec-WebSocket-Key ${quote(key)} ${defect}; ${requirement}.`,
    {
      header,
      got: key,
    },
  );
}

function checkVersion(request: RequestHead): HandshakeFinding {
  const fields = headerFields(request, 'sec-websocket-version');
  const header = 'Sec-WebSocket-Version';
  const rule = 'request-version';
  const refusal =
    'so the server answers 426 Upgrade Required with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2, §4.4)';
  if (fields.length === 1 && fields[0]?.value === '13') {
    return pass(rule, SERVER_RULES, 'Sec-WebSocket-Version is 13, the version of RFC 6455.', {
      header,
      got: '13',
    });
  }
  const got = getHeader(request, 'sec-websocket-version');
  const defect =
    got === undefined
      ? 'There is no Sec-WebSocket-Version header'
      : fields.length > 1
        ? `Sec-WebSocket-Version appears ${fields.length} times, but a request sends it once (RFC 6455 §11.3.5)`
        : `Sec-WebSocket-Version is ${quote(got)}, but this server speaks only version 13`;
  return failure(rule, SERVER_RULES, 426, `${defect}, ${refusal}.`, {
    header,
    expected: '13',
    ...(got === undefined ? {} : { got }),
  });
}

function checkOrigin(request: RequestHead): HandshakeFinding {
  const origin = getHeader(request, 'origin');
  const section = 'RFC 6455 §10.2';
  const explanation =
    origin === undefined
      ? 'There is no Origin header: browsers always send one, so this client is not a browser, and Origin checks do not apply to it (RFC 6455 §4.2.1).'
      : `Origin: ${origin} is the page that opened the socket; a server checks it against the origins it trusts and refuses others with 403 (RFC 6455 §4.2.2).`;
  return {
    rule: 'request-origin',
    section,
    ok: true,
    informational: true,
    explanation,
    header: 'Origin',
    ...(origin === undefined ? {} : { got: origin }),
  };
}

function checkRequestProtocols(request: RequestHead): HandshakeFinding {
  const value = getHeader(request, 'sec-websocket-protocol');
  const header = 'Sec-WebSocket-Protocol';
  const rule = 'request-protocols';
  if (value === undefined) {
    return pass(
      rule,
      SERVER_RULES,
      'No Sec-WebSocket-Protocol: the client asks for no subprotocol, so the server must not select one.',
      { header, values: [] },
    );
  }
  const protocols = parseList(value);
  const invalid = protocols.find((protocol) => !TOKEN.test(protocol));
  const duplicate = protocols.find((protocol, i) => protocols.indexOf(protocol) !== i);
  const defect =
    protocols.length === 0
      ? 'lists no subprotocol'
      : invalid !== undefined
        ? `contains ${quote(invalid)}, which is not a token`
        : duplicate !== undefined
          ? `lists ${quote(duplicate)} twice`
          : undefined;
  if (defect !== undefined) {
    return failure(
      rule,
      SERVER_RULES,
      400,
      `Sec-WebSocket-Protocol ${defect}; it must be a comma-separated list of unique tokens (RFC 6455 §4.1).`,
      { header, got: value },
    );
  }
  return pass(
    rule,
    SERVER_RULES,
    `The client offers the subprotocols ${protocols.join(', ')}, most preferred first; the server may select one and name it in its Sec-WebSocket-Protocol.`,
    { header, got: value, values: protocols },
  );
}

function checkRequestExtensions(request: RequestHead): HandshakeFinding {
  const value = getHeader(request, 'sec-websocket-extensions');
  const header = 'Sec-WebSocket-Extensions';
  const rule = 'request-extensions';
  if (value === undefined) {
    return pass(
      rule,
      SERVER_RULES,
      'No Sec-WebSocket-Extensions: the client offers no extension.',
      {
        header,
        values: [],
      },
    );
  }
  const extensions = parseExtensions(value);
  if (extensions === null) {
    return failure(
      rule,
      SERVER_RULES,
      400,
      `Sec-WebSocket-Extensions ${quote(value)} does not follow the grammar name; param; param=value, name2 (RFC 6455 §9.1).`,
      { header, got: value },
    );
  }
  const names = extensions.map((extension) => extension.name);
  return pass(
    rule,
    SERVER_RULES,
    `The client offers the extensions ${names.join(', ')}; the server may accept some and list them in its response.`,
    { header, got: value, values: names },
  );
}

function hasToken(value: string | undefined, token: string): boolean {
  return parseList(value).some((element) => element.toLowerCase() === token);
}

// ---------------------------------------------------------------------------------------------
// Server side: the response (RFC 6455 §4.2.2)
// ---------------------------------------------------------------------------------------------

const REASONS: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
};

export interface ServerResponse {
  readonly head: ResponseHead;
  /** For a refusal, a plain-text body listing what was wrong; empty for 101. */
  readonly body: string;
  /** How Sec-WebSocket-Accept was computed; null for a refusal. */
  readonly accept: AcceptSteps | null;
  readonly text: string;
  readonly bytes: Uint8Array;
}

export interface ServerResponseOptions {
  /** The subprotocol to select; it must be one the client offered. */
  readonly protocol?: string;
}

/**
 * The exact response a server sends: 101 when no finding failed, else the first failure's status
 * (426, which only a version mismatch earns, gives way to any other).
 */
export async function buildServerResponse(
  request: RequestHead,
  findings: readonly HandshakeFinding[],
  options: ServerResponseOptions = {},
): Promise<ServerResponse> {
  const failed = findings.filter((finding) => !finding.ok && finding.status !== undefined);
  if (failed.length > 0) return refuse(failed);

  const key = getHeader(request, 'sec-websocket-key');
  if (key === undefined || !isValidKey(key)) {
    throw new Error('buildServerResponse: pass the findings of validateUpgradeRequest(request)');
  }
  const offered = parseList(getHeader(request, 'sec-websocket-protocol'));
  if (options.protocol !== undefined && !offered.includes(options.protocol)) {
    throw new RangeError(`The client did not offer the subprotocol ${quote(options.protocol)}`);
  }
  const accept = await computeAccept(key);
  const fields: [string, string][] = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', accept.accept],
  ];
  if (options.protocol !== undefined) fields.push(['Sec-WebSocket-Protocol', options.protocol]);
  return { ...serializeResponse(101, fields, ''), accept };
}

function refuse(failed: readonly HandshakeFinding[]): ServerResponse {
  const status = failed.find((finding) => finding.status !== 426)?.status ?? 426;
  const body = `${failed.map((finding) => finding.explanation).join('\n')}\n`;
  const fields: [string, string][] =
    status === 426
      ? // RFC 9110 §15.5.22: a 426 names the protocol it requires in Upgrade.
        [
          ['Upgrade', 'websocket'],
          ['Connection', 'Upgrade'],
        ]
      : [['Connection', 'close']];
  if (failed.some((finding) => finding.rule === 'request-version')) {
    fields.push(['Sec-WebSocket-Version', '13']);
  }
  fields.push(
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(new TextEncoder().encode(body).length)],
  );
  return { ...serializeResponse(status, fields, body), accept: null };
}

function serializeResponse(
  status: number,
  fields: readonly (readonly [string, string])[],
  body: string,
): Omit<ServerResponse, 'accept'> {
  const reason = REASONS[status] ?? '';
  const { text, bytes, headers } = serialize(`HTTP/1.1 ${status} ${reason}`, fields, body);
  return { head: { version: 'HTTP/1.1', status, reason, headers, notes: [] }, body, text, bytes };
}

function serialize(
  startLine: string,
  fields: readonly (readonly [string, string])[],
  body: string,
): { text: string; bytes: Uint8Array; headers: HeaderField[] } {
  const encoder = new TextEncoder();
  let byteOffset = encoder.encode(`${startLine}\r\n`).length;
  const headers: HeaderField[] = [];
  for (const [name, value] of fields) {
    if (/[\r\n\0]/.test(name + value)) {
      throw new TypeError(`Header ${quote(name)} would break the message: CR, LF or NUL in it`);
    }
    headers.push({ name, lowerName: name.toLowerCase(), value, byteOffset });
    byteOffset += encoder.encode(`${name}: ${value}\r\n`).length;
  }
  const lines = [startLine, ...fields.map(([name, value]) => `${name}: ${value}`)];
  const text = `${lines.join('\r\n')}\r\n\r\n${body}`;
  return { text, bytes: encoder.encode(text), headers };
}

// ---------------------------------------------------------------------------------------------
// Client side (RFC 6455 §4.1)
// ---------------------------------------------------------------------------------------------

export interface ClientRequestOptions {
  /** Host header value, with the port when it is not the default. */
  readonly host: string;
  /** Path and query, e.g. `/chat`. */
  readonly path: string;
  readonly key: string;
  readonly origin?: string;
  readonly protocols?: readonly string[];
  /** Sec-WebSocket-Extensions offers, e.g. `permessage-deflate; client_max_window_bits`. */
  readonly extensions?: readonly string[];
}

export interface ClientRequest {
  readonly head: RequestHead;
  readonly text: string;
  readonly bytes: Uint8Array;
}

/** A client's opening handshake in the order of RFC 6455 §1.2's example. */
export function buildClientRequest(options: ClientRequestOptions): ClientRequest {
  const { host, path, key, origin, protocols = [], extensions = [] } = options;
  const fields: [string, string][] = [
    ['Host', host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
  ];
  if (origin !== undefined) fields.push(['Origin', origin]);
  if (protocols.length > 0) fields.push(['Sec-WebSocket-Protocol', protocols.join(', ')]);
  if (extensions.length > 0) fields.push(['Sec-WebSocket-Extensions', extensions.join(', ')]);
  fields.push(['Sec-WebSocket-Version', '13']);
  if (/[\s\0]/.test(path)) throw new TypeError(`The path ${quote(path)} contains whitespace`);
  const { text, bytes, headers } = serialize(`GET ${path} HTTP/1.1`, fields, '');
  return {
    head: { method: 'GET', target: path, version: 'HTTP/1.1', headers, notes: [] },
    text,
    bytes,
  };
}

export interface ClientExpectations {
  /** The Sec-WebSocket-Key the client sent. */
  readonly key: string;
  /** The subprotocols the client offered. */
  readonly protocols?: readonly string[];
  /** The Sec-WebSocket-Extensions offers the client sent. */
  readonly extensions?: readonly string[];
}

/**
 * The client's checks of the server's response (RFC 6455 §4.1): any failure means the client must
 * Fail the WebSocket Connection. A status other than 101 ends the checks, since the response is
 * then ordinary HTTP.
 */
export async function validateServerResponse(
  response: ResponseHead,
  { key, protocols = [], extensions = [] }: ClientExpectations,
): Promise<HandshakeFinding[]> {
  if (response.status !== 101) return [checkStatus(response)];
  return [
    checkStatus(response),
    checkResponseUpgrade(response),
    checkResponseConnection(response),
    await checkAccept(response, key),
    checkResponseExtensions(response, extensions),
    checkResponseProtocol(response, protocols),
  ];
}

function checkStatus(response: ResponseHead): HandshakeFinding {
  const { status, reason } = response;
  if (status === 101) {
    return pass(
      'response-status',
      CLIENT_RULES,
      '101 Switching Protocols: the server agrees to speak WebSocket once this head ends.',
    );
  }
  const answered = `The server answered ${status} ${reason}`.trimEnd();
  const location = getHeader(response, 'location');
  const meaning =
    status === 426
      ? `it does not speak the version the client asked for; it speaks Sec-WebSocket-Version: ${getHeader(response, 'sec-websocket-version') ?? '(not given)'} (RFC 6455 §4.4)`
      : status >= 300 && status < 400
        ? `a redirect to ${location ?? '(no Location)'}, which a client may follow but need not`
        : status === 401
          ? 'the server wants the client to authenticate first'
          : status === 403
            ? 'the server refuses this client, often because of its Origin (RFC 6455 §10.2)'
            : status === 400
              ? 'the server found the handshake malformed; its body may say which header'
              : status >= 200 && status < 300
                ? 'the server handled the request as plain HTTP and ignored the Upgrade, so it is not a WebSocket endpoint (or a proxy removed Upgrade and Connection)'
                : 'not 101 Switching Protocols';
  return clientFailure(
    'response-status',
    `${answered}: ${meaning}. The connection does not become a WebSocket.`,
    { expected: '101', got: String(status) },
  );
}

function checkResponseUpgrade(response: ResponseHead): HandshakeFinding {
  const value = getHeader(response, 'upgrade');
  const header = 'Upgrade';
  if (value?.toLowerCase() === 'websocket') {
    return pass(
      'response-upgrade',
      CLIENT_RULES,
      `Upgrade: ${value} confirms the switch to WebSocket.`,
      {
        header,
        got: value,
      },
    );
  }
  return clientFailure(
    'response-upgrade',
    `${value === undefined ? 'There is no Upgrade header' : `Upgrade is ${quote(value)}`}; a 101 must carry Upgrade: websocket, or the client must Fail the WebSocket Connection.`,
    { header, expected: 'websocket', ...(value === undefined ? {} : { got: value }) },
  );
}

function checkResponseConnection(response: ResponseHead): HandshakeFinding {
  const value = getHeader(response, 'connection');
  const header = 'Connection';
  if (hasToken(value, 'upgrade')) {
    return pass(
      'response-connection',
      CLIENT_RULES,
      `Connection: ${value} contains the token Upgrade.`,
      {
        header,
        ...(value === undefined ? {} : { got: value }),
      },
    );
  }
  return clientFailure(
    'response-connection',
    `${value === undefined ? 'There is no Connection header' : `Connection is ${quote(value)}`}; a 101 must carry Connection: Upgrade, or the client must Fail the WebSocket Connection.`,
    { header, expected: 'Upgrade', ...(value === undefined ? {} : { got: value }) },
  );
}

async function checkAccept(response: ResponseHead, key: string): Promise<HandshakeFinding> {
  const fields = headerFields(response, 'sec-websocket-accept');
  const header = 'Sec-WebSocket-Accept';
  const steps = await computeAccept(key);
  const expected = steps.accept;
  const got = fields[0]?.value;
  if (fields.length === 1 && got === expected) {
    return pass(
      'response-accept',
      CLIENT_RULES,
      `Sec-WebSocket-Accept is ${expected}, base64(SHA-1(key + GUID)): the server read this very handshake.`,
      { header, expected, got },
    );
  }
  const defect =
    got === undefined
      ? 'There is no Sec-WebSocket-Accept header'
      : fields.length > 1
        ? `Sec-WebSocket-Accept appears ${fields.length} times, but a response sends it once (RFC 6455 §11.3.3)`
        : `Sec-WebSocket-Accept is ${quote(got)} but should be ${expected}${acceptHint(got, steps)}`;
  return clientFailure(
    'response-accept',
    `${defect}; the client must Fail the WebSocket Connection.`,
    { header, expected, ...(got === undefined ? {} : { got }) },
  );
}

function acceptHint(got: string, steps: AcceptSteps): string {
  if (got.toLowerCase() === steps.sha1Hex) {
    return ' (that is the SHA-1 in hex; base64-encode the 20 digest bytes instead)';
  }
  if (got === steps.key) return ' (that is the key itself; hash key + GUID with SHA-1 first)';
  return ' (base64 of the SHA-1 of the key followed by the GUID)';
}

function checkResponseExtensions(
  response: ResponseHead,
  offers: readonly string[],
): HandshakeFinding {
  const value = getHeader(response, 'sec-websocket-extensions');
  const header = 'Sec-WebSocket-Extensions';
  const rule = 'response-extensions';
  if (value === undefined) {
    return pass(rule, CLIENT_RULES, 'No Sec-WebSocket-Extensions: no extension is in use.', {
      header,
      values: [],
    });
  }
  const accepted = parseExtensions(value);
  const offered = new Set((parseExtensions(offers.join(', ')) ?? []).map((offer) => offer.name));
  const unasked = accepted?.find((extension) => !offered.has(extension.name));
  if (accepted === null || unasked !== undefined) {
    const defect =
      accepted === null
        ? `${quote(value)} does not follow the grammar of RFC 6455 §9.1`
        : `names ${unasked?.name}, which the client did not offer`;
    return clientFailure(
      rule,
      `Sec-WebSocket-Extensions ${defect}; the client must Fail the WebSocket Connection.`,
      { header, got: value },
    );
  }
  const names = accepted.map((extension) => extension.name);
  return pass(
    rule,
    CLIENT_RULES,
    `The server accepted ${names.join(', ')}, which the client offered.`,
    {
      header,
      got: value,
      values: names,
    },
  );
}

function checkResponseProtocol(
  response: ResponseHead,
  offered: readonly string[],
): HandshakeFinding {
  const fields = headerFields(response, 'sec-websocket-protocol');
  const header = 'Sec-WebSocket-Protocol';
  const rule = 'response-protocol';
  if (fields.length === 0) {
    const note =
      offered.length > 0
        ? ` RFC 6455 allows this although the client offered ${offered.join(', ')}, but Chrome, for one, fails such a connection.`
        : '';
    return pass(
      rule,
      CLIENT_RULES,
      `No Sec-WebSocket-Protocol: no subprotocol was selected.${note}`,
      {
        header,
        values: [],
      },
    );
  }
  const got = getHeader(response, 'sec-websocket-protocol') ?? '';
  if (fields.length === 1 && offered.includes(got)) {
    return pass(
      rule,
      CLIENT_RULES,
      `The server selected the subprotocol ${got}, which the client offered.`,
      {
        header,
        got,
        values: [got],
      },
    );
  }
  const defect =
    fields.length > 1 || parseList(got).length > 1
      ? `names ${quote(got)}, but a server selects exactly one subprotocol (RFC 6455 §4.2.2, §11.3.4)`
      : `selects ${quote(got)}, which the client did not offer${offered.length > 0 ? ` (it offered ${offered.join(', ')})` : ''}`;
  return clientFailure(
    rule,
    `Sec-WebSocket-Protocol ${defect}; the client must Fail the WebSocket Connection.`,
    { header, got },
  );
}
