/**
 * Live exercises are checked from what the lab server saw. The page subscribes to /observe and
 * keeps the events of the learner's own connections opened after they pressed Start:
 *
 * - "after Start": the first /observe message is a snapshot of the connections already open;
 *   those, and any connection whose `connection-opened` this page did not see, are ignored.
 * - "own": a browser WebSocket's opening handshake carries this browser's `User-Agent`, so a
 *   connection whose handshake-request has the same User-Agent came from this browser; one with
 *   another browser's User-Agent did not. A handshake with no User-Agent at all was typed by hand
 *   through /raw (a TCP connection the server opens to itself) or sent by a non-browser client on
 *   this machine (wscat, the learner's own code): on a lab server bound to loopback, that is the
 *   learner too. A lab can also name a connection with `announceConnection(conn)`, which reaches
 *   every tab of the site through a BroadcastChannel.
 *
 * `LiveCollector` is the pure part; `watchLearnerEvents` is the thin browser side.
 */
import {
  ANNOTATION_SCHEMA_VERSION,
  type LabEvent,
  type ObserveSnapshot,
} from '../../protocol/annotations.ts';
import {
  connectLabServer,
  type UnavailableMessage,
  unavailableMessage,
} from '../shared/lab-server.ts';

/** Events kept for all of the learner's connections; past it the oldest go (a live task is short). */
const MAX_EVENTS = 5_000;
/** Connections whose owner is not known yet, and events held for each of them. */
const MAX_PENDING = 64;
const MAX_PENDING_EVENTS = 500;

export const CONNECTIONS_CHANNEL = 'websocket-lab:connections';

export interface LearnerIdentity {
  /** `navigator.userAgent` of this browser. */
  readonly userAgent: string;
}

type Owner = 'learner' | 'other' | 'unknown';

export class LiveCollector {
  readonly #identity: LearnerIdentity;
  /** Connections open before Start (from the snapshot): never the learner's attempt. */
  readonly #before = new Set<number>();
  readonly #owners = new Map<number, Owner>();
  readonly #pending = new Map<number, LabEvent[]>();
  readonly #claimed = new Set<number>();
  #events: LabEvent[] = [];
  #dropped = 0;

  constructor(identity: LearnerIdentity) {
    this.#identity = identity;
  }

  /** The learner's events so far, in the server's order. */
  get events(): readonly LabEvent[] {
    return this.#events;
  }

  /** How many of the learner's connections were seen. */
  get connections(): number {
    let count = 0;
    for (const owner of this.#owners.values()) if (owner === 'learner') count++;
    return count;
  }

  /** Events the server could not deliver to this observer (it fell behind). */
  get dropped(): number {
    return this.#dropped;
  }

  snapshot(snapshot: ObserveSnapshot): void {
    for (const connection of snapshot.connections) this.#before.add(connection.conn);
  }

  /** A lab on this site says connection `conn` is the learner's (see `announceConnection`). */
  claim(conn: number): boolean {
    this.#claimed.add(conn);
    if (this.#owners.get(conn) !== 'unknown') return false;
    this.#owners.set(conn, 'learner');
    this.#adopt(conn);
    return true;
  }

  /** Takes one event from /observe; true when it added to the learner's events. */
  add(event: LabEvent): boolean {
    if (event.type === 'dropped') {
      this.#dropped += event.count;
      return false;
    }
    const conn = event.conn;
    if (this.#before.has(conn)) return false;
    let owner = this.#owners.get(conn);
    if (owner === undefined) {
      if (event.type !== 'connection-opened') return false;
      owner = this.#claimed.has(conn) ? 'learner' : 'unknown';
      if (owner === 'unknown' && this.#pending.size >= MAX_PENDING) return false;
      this.#owners.set(conn, owner);
      if (owner === 'unknown') this.#pending.set(conn, []);
    }
    if (owner === 'unknown' && event.type === 'handshake-request') {
      const agent = event.headers.find((header) => header.name.toLowerCase() === 'user-agent');
      if (agent === undefined || agent.value === this.#identity.userAgent) {
        this.#owners.set(conn, 'learner');
        this.#pending.get(conn)?.push(event);
        this.#adopt(conn);
        return true;
      }
    }
    if (owner === 'learner') {
      this.#push(event);
      return true;
    }
    if (owner === 'unknown') {
      const held = this.#pending.get(conn);
      if (held !== undefined && held.length < MAX_PENDING_EVENTS) held.push(event);
      // A connection that ended with nobody claiming it was someone else's.
      if (event.type === 'socket-closed') {
        this.#pending.delete(conn);
        this.#owners.set(conn, 'other');
      }
    }
    return false;
  }

  #adopt(conn: number): void {
    const held = this.#pending.get(conn) ?? [];
    this.#pending.delete(conn);
    for (const event of held) this.#push(event);
    this.#events.sort((a, b) => a.seq - b.seq);
  }

  #push(event: LabEvent): void {
    this.#events.push(event);
    if (this.#events.length > MAX_EVENTS) this.#events = this.#events.slice(-MAX_EVENTS);
  }
}

/** One /observe message, read defensively: anything else is ignored, never trusted. */
export function readObserveMessage(
  text: string,
): { kind: 'snapshot'; snapshot: ObserveSnapshot } | { kind: 'event'; event: LabEvent } | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const record = data as { v?: unknown; type?: unknown; conn?: unknown; seq?: unknown };
  if (record.v !== ANNOTATION_SCHEMA_VERSION || typeof record.type !== 'string') return null;
  if (record.type === 'snapshot') {
    const connections = (data as { connections?: unknown }).connections;
    return Array.isArray(connections)
      ? { kind: 'snapshot', snapshot: data as ObserveSnapshot }
      : null;
  }
  if (typeof record.conn !== 'number' || typeof record.seq !== 'number') return null;
  return { kind: 'event', event: data as LabEvent };
}

/** Tells every open tab of the site that connection `conn` is this learner's. */
export function announceConnection(conn: number): void {
  if (typeof BroadcastChannel === 'undefined') return;
  const channel = new BroadcastChannel(CONNECTIONS_CHANNEL);
  channel.postMessage({ type: 'claim', conn });
  channel.close();
}

export type WatchStatus =
  | { readonly state: 'connecting' }
  | { readonly state: 'watching'; readonly origin: string }
  | { readonly state: 'unavailable'; readonly message: UnavailableMessage }
  | { readonly state: 'closed'; readonly reason: string };

export interface Watch {
  stop(): void;
}

/** Subscribes to /observe and reports the learner's events as they come. */
export function watchLearnerEvents(
  onEvents: (collector: LiveCollector) => void,
  onStatus: (status: WatchStatus) => void,
): Watch {
  const collector = new LiveCollector({ userAgent: navigator.userAgent });
  const abort = new AbortController();
  let socket: WebSocket | null = null;
  let stopped = false;
  const channel =
    typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CONNECTIONS_CHANNEL);
  channel?.addEventListener('message', (message: MessageEvent<unknown>) => {
    const data = message.data as { type?: unknown; conn?: unknown } | null;
    if (data?.type === 'claim' && typeof data.conn === 'number' && Number.isInteger(data.conn)) {
      if (collector.claim(data.conn)) onEvents(collector);
    }
  });
  onStatus({ state: 'connecting' });
  connectLabServer('/observe', { signal: abort.signal }).then((result) => {
    if (stopped) {
      if (result.ok) result.connection.socket.close(1000);
      return;
    }
    if (!result.ok) {
      onStatus({ state: 'unavailable', message: unavailableMessage(result.tried, location) });
      return;
    }
    socket = result.connection.socket;
    onStatus({ state: 'watching', origin: result.connection.origin });
    socket.addEventListener('message', (message: MessageEvent<unknown>) => {
      if (typeof message.data !== 'string') return;
      const read = readObserveMessage(message.data);
      if (read === null) return;
      if (read.kind === 'snapshot') collector.snapshot(read.snapshot);
      else if (collector.add(read.event)) onEvents(collector);
    });
    socket.addEventListener('close', (event) => {
      if (stopped) return;
      onStatus({
        state: 'closed',
        reason: `The lab server closed the observer connection (code ${event.code}${event.reason === '' ? '' : `, ${event.reason}`}). Is \`pnpm lab\` still running?`,
      });
    });
  });
  return {
    stop() {
      stopped = true;
      abort.abort();
      channel?.close();
      if (socket !== null && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    },
  };
}
