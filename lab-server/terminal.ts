/**
 * The annotation stream in the terminal that runs `pnpm lab`: coloured text (the same renderer
 * as the browser's xterm console), NDJSON for other programs, or nothing. A slow reader of
 * stdout (a pipe into a pager, a paused terminal) must not make the server buffer without bound
 * or slow its connections: once a write is refused, events are counted and dropped until the
 * stream drains, and a `dropped` event then says how many were not shown.
 */
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../protocol/annotations.ts';
import { renderEvent, type Verbosity } from '../protocol/render-text.ts';
import type { Registry } from './registry.ts';

/** `pretty`: annotated text; `json`: one event per line (NDJSON); `quiet`: no events. */
export type OutputMode = 'pretty' | 'json' | 'quiet';

/** What the terminal needs of a stream: process.stdout, or any Writable. */
export interface OutputStream {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
  readonly isTTY?: boolean;
}

export interface TerminalOptions {
  readonly mode: OutputMode;
  /** Colour the pretty text; see `wantsColor`. */
  readonly color: boolean;
  readonly verbosity?: Verbosity;
}

export interface Terminal {
  /** Events not shown because the stream could not keep up, since the start. */
  readonly dropped: number;
  dispose(): void;
}

/**
 * Colour only for a terminal, and only when neither --no-color nor NO_COLOR (https://no-color.org:
 * set to anything but the empty string) says otherwise.
 */
export function wantsColor(
  stream: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
  allowed: boolean,
): boolean {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return allowed && !noColor && stream.isTTY === true;
}

export function attachTerminal(
  registry: Pick<Registry, 'subscribe'>,
  stream: OutputStream,
  options: TerminalOptions,
): Terminal {
  let droppedTotal = 0;
  if (options.mode === 'quiet') {
    // Not even subscribing: with no listener the tap skips building events altogether.
    return { dropped: 0, dispose: () => {} };
  }
  const render = { color: options.color, verbosity: options.verbosity ?? 'bits' } as const;
  const format = (event: LabEvent): string => {
    if (options.mode === 'json') return `${JSON.stringify(event)}\n`;
    try {
      return `${renderEvent(event, render).join('\n')}\n`;
    } catch (error) {
      // A renderer bug must not take the connection that emitted the event down with it.
      return `[${event.conn}] (event ${event.seq} of type ${event.type} could not be shown: ${(error as Error).message})\n`;
    }
  };

  let blocked = false;
  let dropped = 0;
  let lastDropped: LabEvent | undefined;
  let closed = false;

  const write = (event: LabEvent) => {
    if (!stream.write(format(event))) {
      blocked = true;
      stream.once('drain', onDrain);
    }
  };
  const onDrain = () => {
    blocked = false;
    if (closed || dropped === 0 || lastDropped === undefined) return;
    const marker: LabEvent = {
      v: ANNOTATION_SCHEMA_VERSION,
      type: 'dropped',
      seq: lastDropped.seq,
      t: lastDropped.t,
      conn: 0,
      count: dropped,
    };
    dropped = 0;
    write(marker);
  };
  const listener = (event: LabEvent) => {
    if (closed) return;
    if (blocked) {
      dropped++;
      droppedTotal++;
      lastDropped = event;
      return;
    }
    write(event);
  };
  const unsubscribe = registry.subscribe(listener);
  // A reader that went away (EPIPE: `pnpm lab | head`) ends the output, not the server. The
  // listener stays, so a later write error is not an uncaught exception either.
  stream.on('error', () => dispose());

  function dispose() {
    if (closed) return;
    closed = true;
    unsubscribe();
    stream.off('drain', onDrain);
  }

  return {
    get dropped() {
      return droppedTotal;
    },
    dispose,
  };
}
