/**
 * Who may talk to the lab server. A web page the student happens to visit can open a WebSocket
 * to 127.0.0.1 just as well as the lab's own pages can (cross-site WebSocket hijacking, RFC 6455
 * §10.2), and DNS rebinding can point a foreign name at 127.0.0.1. So browser requests must come
 * from an allowed Origin, and every request must name a Host the server answers to.
 */
import { hostname, networkInterfaces } from 'node:os';
import { parseOrigin } from './options.ts';

/** Astro's dev server (`pnpm dev`), whose pages also use the lab server. */
const DEV_SERVER_PORT = 4321;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface TrustOptions {
  /** The address the server listens on. */
  readonly host: string;
  readonly port: number;
  /** The HTTPS/wss:// listener's port, whose pages (https://localhost:PORT) are the lab's too. */
  readonly tlsPort?: number;
  /** Extra origins allowed, from --origin, e.g. `http://192.168.1.20:6455`. */
  readonly origins?: readonly string[];
}

export interface Verdict {
  readonly ok: boolean;
  /** Why a request was refused, in a sentence a student can act on. */
  readonly reason: string;
}

const OK: Verdict = { ok: true, reason: '' };

function bracket(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/** The names and addresses this server answers to, as they may appear in Host (without port). */
function serverNames(host: string): string[] {
  const names = new Set(LOOPBACK_NAMES);
  names.add(bracket(host));
  if (host === '0.0.0.0' || host === '::') {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) {
      for (const iface of list ?? []) names.add(bracket(iface.address));
    }
  }
  return [...names];
}

export class Trust {
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;

  constructor(options: TrustOptions) {
    const names = serverNames(options.host);
    const tlsPort = options.tlsPort;
    this.#hosts = new Set(names.map((name) => `${name}:${options.port}`));
    if (tlsPort !== undefined) for (const name of names) this.#hosts.add(`${name}:${tlsPort}`);
    // A Host header may leave out the port only when it is the scheme's default.
    if (options.port === 80 || tlsPort === 443) for (const name of names) this.#hosts.add(name);
    this.#origins = new Set([
      ...names.map((name) => `http://${name}:${options.port}`),
      // An origin leaves out the scheme's default port (RFC 6454 §6.2).
      ...(tlsPort === undefined
        ? []
        : names.map((name) => `https://${name}${tlsPort === 443 ? '' : `:${tlsPort}`}`)),
      ...LOOPBACK_NAMES.map((name) => `http://${name}:${DEV_SERVER_PORT}`),
      ...(options.origins ?? []).map((origin) => origin.replace(/\/$/, '').toLowerCase()),
    ]);
  }

  get allowedOrigins(): readonly string[] {
    return [...this.#origins];
  }

  /** DNS rebinding defence: the Host header must name this server (RFC 9110 §7.2). */
  checkHost(host: string | undefined): Verdict {
    if (host === undefined) {
      return {
        ok: false,
        reason: 'The request has no Host header, which HTTP/1.1 requires (RFC 9112 §3.2).',
      };
    }
    if (this.#hosts.has(host.toLowerCase())) return OK;
    return {
      ok: false,
      reason: `Host "${host.slice(0, 100)}" is not a name this lab server answers to. It only accepts ${[...this.#hosts].slice(0, 4).join(', ')}, so a page that points another name at this machine (DNS rebinding) cannot use it.`,
    };
  }

  /**
   * Cross-site WebSocket hijacking defence (RFC 6455 §10.2): compared exactly, so `null` and
   * look-alikes such as `http://localhost.evil.example` fail. No Origin at all means a client that
   * is not a browser (wscat, curl, a student's program): browsers always send one.
   */
  checkOrigin(origin: string | undefined): Verdict {
    if (origin === undefined) return OK;
    if (this.#origins.has(origin.toLowerCase())) return OK;
    return {
      ok: false,
      reason: `Origin "${origin.slice(0, 100)}" is not allowed: only the lab's own pages may use this server from a browser, so that no other web page can drive it (RFC 6455 §10.2). ${remedy(origin)}`,
    };
  }
}

/** How to allow a refused origin, when it can be allowed at all. */
function remedy(origin: string): string {
  if (origin === 'null') {
    return 'No flag allows "null": it is the opaque origin of sandboxed frames and file: pages, which any page can produce (RFC 6454 §6.2, §7.3).';
  }
  let allowable: string | null;
  try {
    allowable = parseOrigin(origin);
  } catch {
    allowable = null;
  }
  // Only an exact http(s) origin can go on the list; anything else would never match a browser's.
  return allowable !== null && allowable === origin.toLowerCase()
    ? `Start the lab with --origin ${allowable} to allow it.`
    : 'It is not an http or https origin (scheme://host:port) as browsers send them, so no --origin can allow it.';
}
