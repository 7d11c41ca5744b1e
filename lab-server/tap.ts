/**
 * The tap: runs the bytes of one connection, both ways, through protocol/ and turns what it
 * finds into annotation events. The annotations come from the bytes on the wire, not from what
 * `ws` reports, and the tap is also the gate: bytes of a frame that fails the connection never
 * reach `ws`, so the server acts on exactly what the annotations say.
 */
import { computeAccept, isValidKey } from '../protocol/accept.ts';
import {
  type Endpoint,
  frameRecord,
  type HeaderRecord,
  messageRecord,
  RESPONSE_BODY_LIMIT,
  type Route,
  type Side,
  toHexString,
} from '../protocol/annotations.ts';
import { FrameParser } from '../protocol/frame-parser.ts';
import { explainHeader, parseExtensions, validateUpgradeRequest } from '../protocol/handshake.ts';
import {
  getHeader,
  type HeaderField,
  HttpHeadParser,
  type RequestHead,
  type ResponseHead,
} from '../protocol/http-head.ts';
import type { Direction, ParserEvent, Problem } from '../protocol/types.ts';
import type { EventDraft, Registry } from './registry.ts';

export interface TapLimits {
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
}

export interface TapOptions {
  readonly registry: Registry;
  readonly limits: TapLimits;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly tls: boolean;
  /** What the TLS handshake negotiated, for a connection that made one. */
  readonly tlsInfo?: TlsInfo;
  /** When the TCP connection was accepted (registry clock), when that was before the tap began. */
  readonly acceptedAt?: number;
  readonly owner: TapOwner;
}

/** The `tls` annotation of a connection, without its place in the stream. */
export type TlsInfo = Omit<Extract<EventDraft, { type: 'tls' }>, 'type' | 'conn'>;

/**
 * Who acts on what the tap finds: the server's side of the connection. An object with methods
 * rather than callbacks, so a connection costs no closures (the server may hold thousands).
 */
export interface TapOwner {
  /** The peer sent a frame that fails the connection (RFC 6455 §7.1.7). */
  failed(problem: Problem): void;
  /**
   * The request head breaks HTTP/1.1 or a limit; the server answers with `status`. No byte of
   * that request reaches the server's HTTP or WebSocket code.
   */
  badRequest(status: 400 | 431, problem: Problem): void;
}

/** The WebSocket paths of the lab server and the route each is annotated as. */
export const WEBSOCKET_ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/echo', 'echo'],
  ['/observe', 'observe'],
  ['/raw', 'raw'],
  ['/check', 'check'],
  ['/trace', 'trace'],
  ['/classroom', 'classroom'],
  ['/teacher', 'teacher'],
]);

/** Where the upgrade request was going, from its path. */
export function routeOf(target: string): Route {
  return WEBSOCKET_ROUTES.get(target.split('?', 1)[0] as string) ?? 'unknown';
}

type ClientState = 'head' | 'await-upgrade' | 'frames' | 'off';
type ServerState = 'idle' | 'head' | 'body' | 'frames' | 'off';

interface Slot {
  draft: EventDraft | undefined;
}

const EMPTY = Buffer.alloc(0);
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false });

/** How many early bytes (sent before the server answered the upgrade) are kept. */
const EARLY_LIMIT = 64 * 1024;
/**
 * Payload bytes each annotation shows; lengths stay exact. Enough for what the renderers print
 * (60 characters of text on a line, 160 in detail) and small to send: every byte costs the JSON
 * of every observer three times over (payloadHex, unmaskedHex and the message's previewHex).
 */
export const PREVIEW_LIMIT = 128;

export class ConnectionTap {
  readonly #options: TapOptions;
  readonly #registry: Registry;
  readonly #openedAt: number;
  /** null until the first request head decides whether this connection is annotated. */
  #watched: boolean | null;
  #conn = 0;
  #route: Route = 'unknown';

  #clientState: ClientState = 'head';
  /** The client broke a rule that ends the connection: none of its later bytes are acted on. */
  #blocked = false;
  /** When the tap began waiting for the request head now due (for the handshake timeout). */
  #headWaitSince: number;
  /** Bytes of the request head now due that have arrived. */
  #headBytes = 0;
  #requestHeads = 0;
  #serverState: ServerState = 'idle';
  #clientOffset = 0;
  #serverOffset = 0;
  #requestParser: HttpHeadParser<'request'> | null;
  #responseParser: HttpHeadParser<'response'> | null = null;
  // Frame parsers are made when the first frame byte arrives, so an idle connection holds none.
  #clientFrames: FrameParser | null = null;
  #serverFrames: FrameParser | null = null;
  #clientRsv1 = false;
  #serverRsv1 = false;
  #early: Buffer[] = [];
  #earlyLength = 0;
  /** Who sent the first close frame, and the first FIN, as this server saw them. */
  #closeSent: Direction | null = null;
  #finFirst: Direction | null = null;
  /** The last upgrade request, for the server's decision. */
  request: RequestHead | null = null;

  /** Events wait here in order, until decided (and for the accept digest, which is async). */
  readonly #queue: Slot[] = [];

  constructor(options: TapOptions) {
    this.#options = options;
    this.#registry = options.registry;
    this.#openedAt = options.acceptedAt ?? this.#registry.now();
    this.#headWaitSince = this.#openedAt;
    this.#watched = null;
    this.#requestParser = this.#newRequestParser();
  }

  /** The /raw relay made this connection: annotate it from the start, whatever it carries. */
  markRelayed(): void {
    if (this.#watched === null) this.#decide(true, this.#route);
  }

  get client(): Endpoint {
    return this.#options.client;
  }

  get conn(): number {
    return this.#conn;
  }

  get route(): Route {
    return this.#route;
  }

  #newRequestParser(): HttpHeadParser<'request'> {
    const { maxHeaderBytes, maxHeaders } = this.#options.limits;
    return new HttpHeadParser({ kind: 'request', maxHeaderBytes, maxHeaders });
  }

  #register(route: Route): void {
    const info = this.#registry.open(this.#options.client, route);
    this.#conn = info.conn;
    this.#route = route;
    this.#push({
      type: 'connection-opened',
      conn: this.#conn,
      client: this.#options.client,
      server: this.#options.server,
      tls: this.#options.tls,
      openedAt: this.#openedAt,
    });
    // Right after the connection opened and before any request: the handshake came first.
    const tls = this.#options.tlsInfo;
    if (tls !== undefined) this.#push({ type: 'tls', conn: this.#conn, ...tls });
  }

  #decide(watched: boolean, route: Route): void {
    if (this.#watched === null) {
      this.#watched = watched;
      if (watched) this.#register(route);
      else this.#queue.length = 0;
    }
    const info = this.#registry.get(this.#conn);
    if (info !== undefined) info.route = route;
    this.#route = route;
  }

  #push(draft: EventDraft): void {
    if (this.#watched === false) return;
    this.#queue.push({ draft });
    this.#flush();
  }

  /** Reserves the event's place in the stream now and fills it in when `later` resolves. */
  #pushLater(later: Promise<EventDraft>): void {
    if (this.#watched === false) return;
    const slot: Slot = { draft: undefined };
    this.#queue.push(slot);
    later.then(
      (draft) => {
        slot.draft = draft;
        this.#flush();
      },
      () => {
        this.#queue.splice(this.#queue.indexOf(slot), 1);
        this.#flush();
      },
    );
  }

  #flush(): void {
    if (this.#watched !== true) return;
    while (this.#queue.length > 0 && this.#queue[0]?.draft !== undefined) {
      const slot = this.#queue.shift() as Slot;
      // Stamped as it is emitted, so `t` never goes back in the stream.
      this.#registry.emit(slot.draft as EventDraft);
    }
  }

  // ---- client to server --------------------------------------------------------------------

  /**
   * Since when (registry clock) the tap has waited for a request head, or null when none is due:
   * the connection upgraded, or failed.
   */
  get awaitingHeadSince(): number | null {
    return this.#clientState === 'head' && !this.#blocked ? this.#headWaitSince : null;
  }

  /** Bytes of the request head now due that have arrived so far. */
  get headBytes(): number {
    return this.#headBytes;
  }

  /** Request heads read so far, refused ones included. */
  get requestHeads(): number {
    return this.#requestHeads;
  }

  /** Bytes received from the client so far. */
  get bytesIn(): number {
    return this.#clientOffset;
  }

  /** Bytes sent to the client so far (after decryption, on a TLS connection). */
  get bytesOut(): number {
    return this.#serverOffset;
  }

  /** What the TLS handshake negotiated, or undefined on a plain TCP connection. */
  get tls(): TlsInfo | undefined {
    return this.#options.tlsInfo;
  }

  /** When the TCP connection was accepted (registry clock). */
  get openedAt(): number {
    return this.#openedAt;
  }

  /** Bytes from the client; returns how many may be acted on. */
  incoming(chunk: Uint8Array): number {
    if (this.#blocked) {
      this.#clientOffset += chunk.length;
      return 0;
    }
    switch (this.#clientState) {
      case 'off':
        this.#clientOffset += chunk.length;
        return chunk.length;
      case 'head':
        return this.#clientHead(chunk);
      case 'await-upgrade':
        this.#keepEarly(chunk);
        this.#clientOffset += chunk.length;
        return chunk.length;
      case 'frames':
        return this.#clientFramesPush(chunk);
    }
  }

  #clientHead(chunk: Uint8Array): number {
    const start = this.#clientOffset;
    this.#requestParser ??= this.#newRequestParser();
    const result = this.#requestParser.push(chunk);
    if (result.state === 'need-more') {
      this.#clientOffset += chunk.length;
      this.#headBytes += chunk.length;
      return chunk.length;
    }
    this.#headBytes = 0;
    this.#requestHeads++;
    if (result.state === 'error') {
      // Garbage where a request should be: worth showing, whoever sent it. The server answers
      // it; Node's parser never sees it.
      this.#decide(true, this.#route);
      this.#push({
        type: 'problem',
        conn: this.#conn,
        direction: 'client-to-server',
        problem: result.problem,
      });
      this.#clientState = 'off';
      this.#blocked = true;
      this.#clientOffset += chunk.length;
      this.#options.owner.badRequest(result.status, result.problem);
      return 0;
    }
    const head = result.head;
    const consumed = chunk.length - result.rest.length;
    const headStart = start + consumed - result.headLength;
    this.#clientOffset = start + consumed;
    const upgrade =
      getHeader(head, 'upgrade') !== undefined ||
      getHeader(head, 'sec-websocket-key') !== undefined;
    const route = upgrade ? routeOf(head.target) : 'http';
    // The lab's own tools (observers, the relay, the checker) are not what learners study.
    this.#decide(upgrade && (route === 'echo' || route === 'unknown'), route);
    if (upgrade) {
      this.request = head;
      this.#requestParser = null;
      this.#requestEvent(head, headStart, result.headLength, route);
      this.#clientState = 'await-upgrade';
      // The bytes after the head reach the upgrade handler as its `head` argument.
      this.#keepEarly(result.rest);
      this.#clientOffset += result.rest.length;
      return chunk.length;
    }
    // A plain HTTP request. Requests with a body end the tap: finding the next head would mean
    // parsing bodies, and nothing on this server takes one.
    const hasBody =
      getHeader(head, 'transfer-encoding') !== undefined ||
      Number(getHeader(head, 'content-length') ?? '0') > 0;
    this.#requestParser = null;
    if (hasBody) {
      this.#clientState = 'off';
      this.#clientOffset += result.rest.length;
      return chunk.length;
    }
    // Keep-alive: the next request head is due now.
    this.#headWaitSince = this.#registry.now();
    if (result.rest.length === 0) return chunk.length;
    return consumed + this.#clientHead(result.rest);
  }

  #keepEarly(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    // A client must wait for the 101 before sending frames (RFC 6455 §4.1); one that floods
    // the socket instead is not annotated further.
    if (this.#earlyLength + bytes.length > EARLY_LIMIT) {
      this.stopClient();
      return;
    }
    this.#early.push(Buffer.from(bytes));
    this.#earlyLength += bytes.length;
  }

  #requestEvent(head: RequestHead, offset: number, length: number, route: Route): void {
    if (this.#watched !== true) return;
    const findings = validateUpgradeRequest(head);
    const key = getHeader(head, 'sec-websocket-key');
    const base = {
      type: 'handshake-request' as const,
      conn: this.#conn,
      route,
      streamOffset: offset,
      method: head.method,
      target: head.target,
      version: head.version,
      headers: headerRecords(head.headers, 'request'),
      length,
      findings,
    };
    if (key === undefined || !isValidKey(key)) {
      this.#push({ ...base, accept: null });
      return;
    }
    this.#pushLater(
      computeAccept(key).then((steps) => {
        const { bytes, ...rest } = steps;
        return { ...base, accept: { ...rest, bytesHex: toHexString(bytes) } };
      }),
    );
  }

  /**
   * The server took the upgrade: from here the client sends frames. Returns the bytes that came
   * after the request head (the client may send frames before it sees the 101) that may reach
   * `ws`: all of them, or those before a frame that fails the connection.
   */
  beginFrames(extensions: { rsv1: boolean }): Buffer {
    if (this.#clientState !== 'await-upgrade') return EMPTY;
    const early = Buffer.concat(this.#early);
    this.#early = [];
    this.#earlyLength = 0;
    this.#clientOffset -= early.length;
    this.#clientRsv1 = extensions.rsv1;
    this.#clientState = 'frames';
    return early.length === 0 ? early : early.subarray(0, this.#clientFramesPush(early));
  }

  /**
   * The server answered the request as plain HTTP after all (Node saw no Upgrade header): the
   * connection stays HTTP, and the next request may be a proper upgrade.
   */
  resumeHttp(): void {
    if (this.#clientState !== 'await-upgrade') return;
    const early = Buffer.concat(this.#early);
    this.#early = [];
    this.#earlyLength = 0;
    this.#clientOffset -= early.length;
    this.#clientState = 'head';
    this.#headWaitSince = this.#registry.now();
    if (early.length > 0) this.#clientHead(early);
  }

  /** The bytes that came after the upgrade request's head, for an endpoint the tap does not read. */
  takeEarly(): Buffer {
    const early = Buffer.concat(this.#early);
    this.#early = [];
    this.#earlyLength = 0;
    return early;
  }

  /** The upgrade was refused or handled elsewhere: stop reading the client's bytes. */
  stopClient(): void {
    this.#clientState = 'off';
    this.#early = [];
    this.#earlyLength = 0;
  }

  #newClientParser(): FrameParser {
    const { maxPayload, maxFragments } = this.#options.limits;
    this.#clientFrames = new FrameParser({
      direction: 'client-to-server',
      maxPayload,
      maxFragments,
      extensions: { rsv1: this.#clientRsv1 },
      previewLimit: PREVIEW_LIMIT,
      startOffset: this.#clientOffset,
    });
    return this.#clientFrames;
  }

  #clientFramesPush(chunk: Uint8Array): number {
    const parser = this.#clientFrames ?? this.#newClientParser();
    const start = this.#clientOffset;
    const events = parser.push(chunk);
    this.#clientOffset += chunk.length;
    // Where the frame that fails the connection starts; a failure found outside a frame's
    // header (in a message) holds back the whole chunk.
    let failingFrameStart = start;
    for (const event of events) {
      if (event.kind === 'frame' && event.frame.problems.some((p) => p.fatal)) {
        failingFrameStart = event.frame.streamOffset;
      }
      this.#parserEvent('client-to-server', event);
    }
    const failure = parser.failure;
    if (failure === null) return chunk.length;
    this.#clientState = 'off';
    this.#blocked = true;
    this.#options.owner.failed(failure);
    // Let through the frames before the failing one; the failing frame itself stops here.
    return Math.max(0, Math.min(chunk.length, failingFrameStart - start));
  }

  // ---- server to client --------------------------------------------------------------------

  #annotateServerFrames = true;

  /**
   * The server is about to answer an upgrade request: parse what it writes as a response, and
   * then its frames, unless `frames` is false (the /observe stream must not annotate itself).
   */
  expectResponse(frames: boolean): void {
    const { maxHeaderBytes, maxHeaders } = this.#options.limits;
    this.#responseParser = new HttpHeadParser({ kind: 'response', maxHeaderBytes, maxHeaders });
    this.#serverState = 'head';
    this.#annotateServerFrames = frames;
  }

  outgoing(chunk: Uint8Array): void {
    if (this.#serverState === 'idle' || this.#serverState === 'off' || this.#watched !== true) {
      this.#serverOffset += chunk.length;
      return;
    }
    if (this.#serverState === 'body') {
      this.#refusalBody(chunk);
      return;
    }
    if (this.#serverState === 'frames') {
      const parser = this.#serverFrames ?? this.#newServerParser();
      for (const event of parser.push(chunk)) this.#parserEvent('server-to-client', event);
      this.#serverOffset += chunk.length;
      return;
    }
    const result = (this.#responseParser as HttpHeadParser<'response'>).push(chunk);
    if (result.state !== 'need-more') this.#responseParser = null;
    if (result.state === 'need-more') {
      this.#serverOffset += chunk.length;
      return;
    }
    if (result.state === 'error') {
      this.#push({
        type: 'problem',
        conn: this.#conn,
        direction: 'server-to-client',
        problem: result.problem,
      });
      this.#serverState = 'off';
      this.#serverOffset += chunk.length;
      return;
    }
    const consumed = chunk.length - result.rest.length;
    const headStart = this.#serverOffset + consumed - result.headLength;
    this.#serverOffset += consumed;
    const draft = this.#responseDraft(result.head, headStart, result.headLength);
    const declared = Number(getHeader(result.head, 'content-length') ?? '0');
    if (result.head.status !== 101 && Number.isSafeInteger(declared) && declared > 0) {
      // A refusal explains itself in its body (the server's reason: which Origin, which rule);
      // its event waits, in its place in the stream, for the first bytes of that body.
      const slot: Slot = { draft: undefined };
      this.#queue.push(slot);
      this.#refusal = { slot, draft, wanted: Math.min(declared, RESPONSE_BODY_LIMIT), body: [] };
      this.#serverState = 'body';
      this.#refusalBody(result.rest);
      return;
    }
    this.#push(draft);
    if (result.head.status !== 101 || !this.#annotateServerFrames) {
      this.#serverState = 'off';
      this.#serverOffset += result.rest.length;
      return;
    }
    const offered = parseExtensions(getHeader(result.head, 'sec-websocket-extensions') ?? '') ?? [];
    this.#serverRsv1 = offered.some((e) => e.name === 'permessage-deflate');
    this.#serverState = 'frames';
    if (result.rest.length > 0) this.outgoing(result.rest);
  }

  #newServerParser(): FrameParser {
    this.#serverFrames = new FrameParser({
      direction: 'server-to-client',
      maxPayload: Number.MAX_SAFE_INTEGER,
      extensions: { rsv1: this.#serverRsv1 },
      previewLimit: PREVIEW_LIMIT,
      startOffset: this.#serverOffset,
    });
    return this.#serverFrames;
  }

  #responseDraft(head: ResponseHead, offset: number, length: number): EventDraft {
    return {
      type: 'handshake-response',
      conn: this.#conn,
      status: head.status,
      reason: head.reason,
      headers: headerRecords(head.headers, 'response', head.status),
      streamOffset: offset,
      length,
    };
  }

  /** A refused upgrade whose body is still arriving: its event and the bytes so far. */
  #refusal: { slot: Slot; draft: EventDraft; wanted: number; body: Buffer[] } | null = null;

  /** Bytes of a refusal's body; once enough arrived (or the server ended), its event goes. */
  #refusalBody(chunk: Uint8Array): void {
    this.#serverOffset += chunk.length;
    const refusal = this.#refusal;
    if (refusal === null) return;
    const have = refusal.body.reduce((sum, part) => sum + part.length, 0);
    if (chunk.length > 0) {
      refusal.body.push(Buffer.from(chunk.subarray(0, Math.max(0, refusal.wanted - have))));
    }
    if (have + chunk.length >= refusal.wanted) this.#refusalDone();
  }

  #refusalDone(): void {
    const refusal = this.#refusal;
    if (refusal === null) return;
    this.#refusal = null;
    this.#serverState = 'off';
    const body = lenientUtf8.decode(Buffer.concat(refusal.body));
    refusal.slot.draft = body === '' ? refusal.draft : ({ ...refusal.draft, body } as EventDraft);
    this.#flush();
  }

  // ---- shared ------------------------------------------------------------------------------

  #parserEvent(direction: Direction, event: ParserEvent): void {
    // Kept even when nobody listens: an observer that subscribes later still learns who closed first.
    const closing = event.kind === 'frame' && event.frame.opcode === 0x8 && event.frame.complete;
    const initiated = closing && this.#closeSent === null;
    if (initiated) this.#closeSent = direction;
    // Events nobody will read are not built; the parsing above them still gates the bytes.
    if (this.#watched !== true || !this.#registry.listened) return;
    if (event.kind === 'frame') {
      const frame = event.frame;
      this.#push({ type: 'frame', conn: this.#conn, direction, frame: frameRecord(frame) });
      if (closing) {
        this.#push({
          type: 'close-frame',
          conn: this.#conn,
          direction,
          code: frame.close?.code ?? null,
          reason: frame.close?.reason ?? '',
          initiated,
        });
      }
    } else if (event.kind === 'message') {
      this.#push({
        type: 'message',
        conn: this.#conn,
        direction,
        message: messageRecord(event.message),
      });
    } else {
      this.#push({ type: 'problem', conn: this.#conn, direction, problem: event.problem });
    }
  }

  incomingEnd(): void {
    if (this.#clientState === 'frames' && this.#clientFrames !== null) {
      for (const event of this.#clientFrames.end()) this.#parserEvent('client-to-server', event);
    }
    this.#finFirst ??= 'client-to-server';
    this.#push({ type: 'fin', conn: this.#conn, direction: 'client-to-server' });
  }

  outgoingEnd(): void {
    this.#refusalDone();
    this.#finFirst ??= 'server-to-client';
    this.#push({ type: 'fin', conn: this.#conn, direction: 'server-to-client' });
  }

  closed(error: Error | undefined): void {
    this.#refusalDone();
    this.#push({
      type: 'socket-closed',
      conn: this.#conn,
      bytesIn: this.#clientOffset,
      bytesOut: this.#serverOffset,
      error: error === undefined ? null : error.message,
      closeFrameFirst: sideOf(this.#closeSent),
      finFirst: sideOf(this.#finFirst),
    });
    if (this.#conn !== 0) this.#registry.close(this.#conn);
  }
}

function sideOf(direction: Direction | null): Side | null {
  return direction === null ? null : direction === 'client-to-server' ? 'client' : 'server';
}

function headerRecords(
  headers: readonly HeaderField[],
  side: 'request' | 'response',
  status = 101,
): HeaderRecord[] {
  return headers.map((field) => {
    // A refusal is plain HTTP: only Sec-WebSocket-Version still means what the table says.
    const applies =
      side === 'request' || status === 101 || field.lowerName === 'sec-websocket-version';
    const explanation = applies ? explainHeader(field.name)?.[side] : undefined;
    return {
      name: field.name,
      value: field.value,
      byteOffset: field.byteOffset,
      ...(explanation === undefined ? {} : { explanation }),
    };
  });
}
