import { performance } from 'node:perf_hooks';
import {
  ANNOTATION_SCHEMA_VERSION,
  type Endpoint,
  type LabEvent,
  type ObserveSnapshot,
  type Route,
} from '../protocol/annotations.ts';

/** An event before the registry stamps it with its version, sequence number and time. */
export type EventDraft = LabEvent extends infer E
  ? E extends LabEvent
    ? Omit<E, 'v' | 'seq' | 't'>
    : never
  : never;

export interface ConnectionInfo {
  readonly conn: number;
  route: Route;
  readonly client: Endpoint;
  readonly openedAt: number;
}

/** Serialised events kept; a little more than an observer's largest flush. */
const JSON_CACHE = 2_048;

export type Listener = (event: LabEvent) => void;

/**
 * The connection registry and event bus: the only state the endpoints share. Every annotation
 * passes through `emit`, which numbers it; listeners (the terminal, each observer) filter.
 */
export class Registry {
  readonly #start = performance.now();
  readonly #connections = new Map<number, ConnectionInfo>();
  readonly #listeners = new Set<Listener>();
  #nextConn = 1;
  #seq = 0;
  /** Slot `seq % JSON_CACHE` holds the JSON of event `seq`, if it was serialised. */
  readonly #jsonSeq = new Float64Array(JSON_CACHE);
  readonly #jsonText: (string | undefined)[] = new Array(JSON_CACHE);

  now(): number {
    return Math.round((performance.now() - this.#start) * 1000) / 1000;
  }

  open(client: Endpoint, route: Route = 'unknown'): ConnectionInfo {
    const info: ConnectionInfo = { conn: this.#nextConn++, route, client, openedAt: this.now() };
    this.#connections.set(info.conn, info);
    return info;
  }

  close(conn: number): void {
    this.#connections.delete(conn);
  }

  get(conn: number): ConnectionInfo | undefined {
    return this.#connections.get(conn);
  }

  get size(): number {
    return this.#connections.size;
  }

  /** True when someone listens: the tap skips building events nobody would read. */
  get listened(): boolean {
    return this.#listeners.size > 0;
  }

  snapshot(filter?: number): ObserveSnapshot {
    const connections = [...this.#connections.values()]
      .filter((c) => c.route === 'echo' || c.route === 'unknown')
      .filter((c) => filter === undefined || c.conn === filter)
      .map(({ conn, route, client, openedAt }) => ({ conn, route, client, openedAt }));
    return { v: ANNOTATION_SCHEMA_VERSION, type: 'snapshot', seq: this.#seq, connections };
  }

  emit(draft: EventDraft, t = this.now()): LabEvent {
    const event = { v: ANNOTATION_SCHEMA_VERSION, seq: ++this.#seq, t, ...draft } as LabEvent;
    for (const listener of this.#listeners) listener(event);
    return event;
  }

  /**
   * The event as JSON, serialised once however many observers send it. They all send an event
   * within a few milliseconds of each other (observe.ts gathers at most 2,000 per flush), so a
   * ring of the latest few thousand, by sequence number, is enough. With one listener nothing is
   * shared and nothing is kept: a WeakMap keyed by every event, then a Map with a delete per
   * event, each made the cache cost more than it saved (the echo benchmark with one observer
   * gained 30% without it).
   */
  json(event: LabEvent): string {
    if (this.#listeners.size < 2) return JSON.stringify(event);
    const slot = event.seq % JSON_CACHE;
    if (this.#jsonSeq[slot] === event.seq) return this.#jsonText[slot] as string;
    const text = JSON.stringify(event);
    this.#jsonSeq[slot] = event.seq;
    this.#jsonText[slot] = text;
    return text;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
