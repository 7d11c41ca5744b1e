/**
 * Which annotation events belong to one connection of the learner's: the console finds its
 * /echo connection by a tag in the URL, the handshake lab its /raw connection by the number the
 * relay reports. Free of the DOM, shared by every lab that reads /observe.
 */
import {
  ANNOTATION_SCHEMA_VERSION,
  type LabEvent,
  type ObserveSnapshot,
} from '../../protocol/annotations.ts';

// ---- finding the learner's own connection -------------------------------------------------

/** A random tag for the query string of the /echo URL, e.g. `3fa9c01b77d2`. */
export function newTag(
  random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  return Array.from(random(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function echoPath(tag: string): string {
  return `/echo?console=${tag}`;
}

/** The tag in an upgrade request's target, if it carries one. */
export function tagOf(target: string): string | null {
  const query = target.split('?', 2)[1];
  if (query === undefined) return null;
  return new URLSearchParams(query).get('console');
}

export type ObserverMessage = LabEvent | ObserveSnapshot;

/** Parses one /observe message; null for anything that is not schema version 1. */
export function parseObserverMessage(data: unknown): ObserverMessage | null {
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data) as { v?: unknown; type?: unknown };
    if (value === null || typeof value !== 'object') return null;
    if (value.v !== ANNOTATION_SCHEMA_VERSION || typeof value.type !== 'string') return null;
    return value as ObserverMessage;
  } catch {
    return null;
  }
}

/** Events kept per unknown connection while looking for ours, and unknown connections kept. */
const BUFFER_PER_CONNECTION = 64;
const BUFFERED_CONNECTIONS = 32;

/**
 * The events of one connection, from two observers in turn, each event once and in order.
 *
 * The browser cannot learn the number the lab server gave its WebSocket: it knows neither its
 * local port nor anything else the server sees first. So the console subscribes to every
 * connection (`/observe`) before it connects, and puts a random tag in the URL it connects to
 * (`/echo?console=TAG`). The upgrade request's target travels in the `handshake-request` event,
 * so the event carrying our tag names our connection, however many others open at the same time.
 * (Over /raw the relay names the connection itself; `identify` takes that too.)
 *
 * Then the console narrows to `/observe?id=N`. That observer gets every event after the
 * sequence number in its snapshot; the ones up to it only the wide one can deliver, and it sends
 * events in batches, a few milliseconds late. So the wide one stays until it has delivered up to
 * that number (`wideDone`; a browser drops what arrives on a socket it is closing), and the
 * narrow one's events are taken from the first sequence number the wide one did not show.
 */
export class ConnectionEvents {
  readonly tag: string;
  #conn: number | null = null;
  #phase: 'wide' | 'handoff' | 'narrow' = 'wide';
  #lastSeq = 0;
  /** The highest sequence number the wide observer delivered, and the one it owes. */
  #wideSeq = 0;
  #handoffSeq = Number.POSITIVE_INFINITY;
  readonly #early = new Map<number, LabEvent[]>();
  #pending: LabEvent[] = [];

  constructor(tag: string) {
    this.tag = tag;
  }

  get conn(): number | null {
    return this.#conn;
  }

  /** True once the wide observer is no longer needed (the narrow one's snapshot arrived). */
  get narrowed(): boolean {
    return this.#phase !== 'wide';
  }

  /** An event from the wide observer (`/observe`); returns the events to show now. */
  fromWide(event: LabEvent): LabEvent[] {
    if (this.#phase === 'narrow') return [];
    if (event.type !== 'dropped') this.#wideSeq = Math.max(this.#wideSeq, event.seq);
    if (event.type === 'dropped') return this.#show([event]);
    if (this.#conn === null) {
      if (event.type === 'handshake-request' && tagOf(event.target) === this.tag) {
        this.#remember(event);
        return this.identify(event.conn);
      }
      this.#remember(event);
      return [];
    }
    return event.conn === this.#conn ? this.#show([event]) : [];
  }

  /** Our connection is `conn`: returns its events seen so far. */
  identify(conn: number): LabEvent[] {
    if (this.#conn !== null) return [];
    this.#conn = conn;
    const early = this.#early.get(conn) ?? [];
    this.#early.clear();
    return this.#show(early);
  }

  /** The narrow observer (`/observe?id=N`) sent its snapshot: it now misses nothing. */
  narrowReady(snapshotSeq: number): void {
    if (this.#phase === 'wide') this.#phase = 'handoff';
    this.#handoffSeq = snapshotSeq;
  }

  /** The wide observer has delivered every event the narrow one missed: it may close now. */
  get wideDone(): boolean {
    return this.#phase === 'handoff' && this.#wideSeq >= this.#handoffSeq;
  }

  /** An event from the narrow observer. */
  fromNarrow(event: LabEvent): LabEvent[] {
    if (this.#conn === null) return [];
    if (event.type !== 'dropped' && event.conn !== this.#conn) return [];
    if (this.#phase !== 'narrow') {
      this.#pending.push(event);
      return [];
    }
    return this.#show([event]);
  }

  /** The wide observer has closed: nothing more comes from it. */
  wideClosed(): LabEvent[] {
    this.#phase = 'narrow';
    const pending = this.#pending;
    this.#pending = [];
    return this.#show(pending);
  }

  #remember(event: LabEvent): void {
    let list = this.#early.get(event.conn);
    if (list === undefined) {
      if (this.#early.size >= BUFFERED_CONNECTIONS) {
        const oldest = this.#early.keys().next().value as number;
        this.#early.delete(oldest);
      }
      list = [];
      this.#early.set(event.conn, list);
    }
    if (list.length < BUFFER_PER_CONNECTION) list.push(event);
  }

  #show(events: readonly LabEvent[]): LabEvent[] {
    const shown: LabEvent[] = [];
    for (const event of events) {
      // A `dropped` marker borrows the sequence number of the event after it: not a duplicate.
      if (event.type === 'dropped') {
        shown.push(event);
        continue;
      }
      if (event.seq <= this.#lastSeq) continue;
      this.#lastSeq = event.seq;
      shown.push(event);
    }
    return shown;
  }
}
