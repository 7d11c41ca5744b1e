/**
 * For labs that talk to the lab server (`pnpm lab`). The lab server serves these very pages, so
 * normally it is the page's own origin. The site can also be opened without it (`pnpm dev` on
 * port 4321, or a static copy); then the lab server is looked for at its default address.
 *
 * The pure parts (addresses, messages) are tested without a DOM; `connectLabServer` and
 * `renderUnavailable` are the thin browser side.
 */
import { withClassTag } from './class-tag.ts';
import { h } from './dom.ts';

/** Where `pnpm lab` listens unless told otherwise (lab-server/options.ts). */
export const DEFAULT_LAB_SERVER = 'http://127.0.0.1:6455';

export const START_COMMAND = 'pnpm install && pnpm lab';

/** The parts of `window.location` the helpers need, so tests can pass plain objects. */
export interface PageLocation {
  readonly protocol: string;
  readonly host: string;
}

/**
 * The HTTP origins to try, in order: the page's own (the lab server serves the site), then the
 * default address. A page opened from a file or another scheme has no usable origin of its own.
 */
export function labServerCandidates(
  page: PageLocation,
  fallback: string = DEFAULT_LAB_SERVER,
): string[] {
  const candidates: string[] = [];
  if ((page.protocol === 'http:' || page.protocol === 'https:') && page.host !== '') {
    candidates.push(`${page.protocol}//${page.host}`.toLowerCase());
  }
  const fallbackOrigin = new URL(fallback).origin;
  if (!candidates.includes(fallbackOrigin)) candidates.push(fallbackOrigin);
  return candidates;
}

/**
 * `http://host:port` + `/echo?x=1` → `ws://host:port/echo?x=1` (`https` → `wss`). Every lab
 * opens its WebSockets through here, so in a class an /echo URL also gets the student's live
 * tag (`&tag=...`, labs/shared/class-tag.ts) and the lab server can check live exercises.
 */
export function webSocketUrl(origin: string, path: string): string {
  const url = new URL(withClassTag(path), origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

export interface UnavailableMessage {
  readonly title: string;
  readonly details: readonly string[];
}

/** What to tell the learner when no candidate answered. `tried` holds the ws:// URLs tried. */
export function unavailableMessage(
  tried: readonly string[],
  page: PageLocation,
  fallback: string = DEFAULT_LAB_SERVER,
): UnavailableMessage {
  const details = [
    `Tried ${tried.join(' and ')}: no answer.`,
    'This lab sends real WebSocket frames to the lab server on your own machine, which echoes them and shows every byte it sees.',
  ];
  const own = labServerCandidates(page, fallback)[0];
  const fallbackOrigin = new URL(fallback).origin;
  if (own !== undefined && own !== fallbackOrigin) {
    // A browser cannot tell "nothing listens" from "the server refused this page's Origin".
    details.push(
      `If the lab server is running, open this page from it instead (${fallbackOrigin}/ by default), or start it with \`pnpm lab --origin ${own}\`: it accepts WebSocket connections only from its own pages, the Astro dev server and the origins it is told about (RFC 6455 §10.2).`,
    );
  }
  return {
    title: `The lab server is not running. Start it with \`${START_COMMAND}\` and reload.`,
    details,
  };
}

export interface LabServerConnection {
  /** The lab server's HTTP origin, e.g. `http://127.0.0.1:6455`. */
  readonly origin: string;
  readonly socket: WebSocket;
}

export interface ConnectOptions {
  readonly candidates?: readonly string[];
  /** How long one attempt may take; a dev server can leave an upgrade hanging. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export type ConnectResult =
  | { readonly ok: true; readonly connection: LabServerConnection }
  | { readonly ok: false; readonly tried: readonly string[] };

/**
 * Opens a WebSocket to `path` on the first candidate that accepts it. The open socket is handed
 * over, so the probe costs no extra connection.
 */
export async function connectLabServer(
  path: string,
  options: ConnectOptions = {},
): Promise<ConnectResult> {
  const candidates = options.candidates ?? labServerCandidates(location);
  const timeoutMs = options.timeoutMs ?? 3000;
  const tried: string[] = [];
  for (const origin of candidates) {
    if (options.signal?.aborted) break;
    const url = webSocketUrl(origin, path);
    tried.push(url);
    const socket = await openOne(url, timeoutMs, options.signal);
    if (socket !== null) return { ok: true, connection: { origin, socket } };
  }
  return { ok: false, tried };
}

function openOne(url: string, timeoutMs: number, signal?: AbortSignal): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch {
      resolve(null);
      return;
    }
    const finish = (result: WebSocket | null) => {
      clearTimeout(timer);
      socket.removeEventListener('open', onOpen);
      socket.removeEventListener('close', onFail);
      signal?.removeEventListener('abort', onFail);
      if (result === null && socket.readyState !== WebSocket.CLOSED) socket.close();
      resolve(result);
    };
    const onOpen = () => finish(socket);
    const onFail = () => finish(null);
    const timer = setTimeout(onFail, timeoutMs);
    socket.addEventListener('open', onOpen);
    // A refused connection fires `error`, then `close`; waiting for `close` covers both.
    socket.addEventListener('close', onFail);
    signal?.addEventListener('abort', onFail);
  });
}

/** The message and a retry button, as text only. */
export function renderUnavailable(
  message: UnavailableMessage,
  onRetry: () => void,
  className = 'lab-server-missing',
): HTMLElement {
  const retry = h('button', { type: 'button', class: `${className}-retry` }, 'Try again');
  retry.addEventListener('click', onRetry);
  return h(
    'div',
    { class: className, role: 'alert' },
    h('p', { class: `${className}-title` }, ...withCode(message.title)),
    ...message.details.map((detail) =>
      h('p', { class: `${className}-detail` }, ...withCode(detail)),
    ),
    retry,
  );
}

/** `a \`b\` c` → text, <code>b</code>, text. */
function withCode(text: string): (string | HTMLElement)[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}
