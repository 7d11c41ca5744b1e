/**
 * What a proxy reads from a request line: where the client wants to go. CONNECT carries the
 * authority form `host:port` (RFC 9112 §3.2.3); a request to a forwarding proxy carries the
 * absolute form `http://host:port/path` (RFC 9112 §3.2.2); a transparent proxy gets the origin
 * form `/path` and learns the host from Host (RFC 9112 §3.2.1, §3.2). And whether the lab's
 * proxies may go there: only to the lab server's own ports on loopback. Pure, never throws.
 */

export interface ProxyTarget {
  /** Host name or address, without brackets. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 in brackets), for Host and for messages. */
  readonly authority: string;
  /** Origin-form path and query for the upstream request line (`/` for CONNECT). */
  readonly path: string;
  readonly form: 'authority' | 'absolute' | 'origin';
}

export type TargetResult =
  | { readonly ok: true; readonly target: ProxyTarget }
  | { readonly ok: false; readonly explanation: string };

const PORT = /^\d{1,5}$/;
/** reg-name characters of RFC 3986 §3.2.2 (unreserved, sub-delims, pct-encoded kept out). */
const REG_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=]+$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const MAX_TARGET = 2048;

function bad(explanation: string): TargetResult {
  return { ok: false, explanation };
}

/** Splits `host:port` / `[v6]:port`; the port is required unless `defaultPort` is given. */
export function parseAuthority(text: string, defaultPort?: number): TargetResult {
  if (text.length === 0 || text.length > 300) {
    return bad('The authority is empty or too long; write host:port, e.g. 127.0.0.1:6455.');
  }
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0)
      return bad(
        `"${text.slice(0, 100)}" opens an IPv6 address with [ but never closes it (RFC 3986 §3.2.2).`,
      );
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) {
      return bad(`After the IPv6 address comes :port, not "${after.slice(0, 50)}".`);
    }
    portText = after === '' ? undefined : after.slice(1);
    if (!IPV6.test(host) || !host.includes(':')) {
      return bad(`"${host.slice(0, 100)}" is not an IPv6 address.`);
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      return bad(
        `"${text.slice(0, 100)}" has more than one colon: an IPv6 address goes in brackets, [::1]:6455 (RFC 3986 §3.2.2).`,
      );
    }
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (!REG_NAME.test(host)) {
      return bad(`"${host.slice(0, 100)}" is not a host name or address (RFC 3986 §3.2.2).`);
    }
  }
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) {
      return bad(`"${text.slice(0, 100)}" has no port; CONNECT needs host:port (RFC 9112 §3.2.3).`);
    }
    port = defaultPort;
  } else {
    if (!PORT.test(portText)) return bad(`"${portText.slice(0, 50)}" is not a port number.`);
    port = Number(portText);
    if (port < 1 || port > 65535) return bad(`Port ${port} is out of range (1 to 65535).`);
  }
  const lower = host.toLowerCase();
  return {
    ok: true,
    target: {
      host: lower,
      port,
      authority: `${lower.includes(':') ? `[${lower}]` : lower}:${port}`,
      path: '/',
      form: 'authority',
    },
  };
}

/**
 * The destination of a request to a proxy. `hostHeader` is used for the origin form only (a
 * transparent proxy's view).
 */
export function parseRequestTarget(
  method: string,
  target: string,
  hostHeader: string | undefined,
): TargetResult {
  if (target.length > MAX_TARGET)
    return bad(`The request target is longer than ${MAX_TARGET} bytes.`);
  if (method === 'CONNECT') {
    if (target.includes('/')) {
      return bad(
        `CONNECT takes host:port, not "${target.slice(0, 100)}" (the authority form, RFC 9112 §3.2.3).`,
      );
    }
    return parseAuthority(target);
  }
  if (target.startsWith('/')) {
    if (hostHeader === undefined || hostHeader === '') {
      return bad(
        'A request in origin form (/path) needs a Host header to say where it goes (RFC 9112 §3.2).',
      );
    }
    const authority = parseAuthority(hostHeader, 80);
    if (!authority.ok) return authority;
    return { ok: true, target: { ...authority.target, path: target, form: 'origin' } };
  }
  const scheme = /^(https?|wss?):\/\//i.exec(target);
  if (scheme === null) {
    return bad(
      `"${target.slice(0, 100)}" is neither an absolute URL (http://host:port/path, RFC 9112 §3.2.2) nor a path.`,
    );
  }
  const name = (scheme[1] as string).toLowerCase();
  if (name === 'https' || name === 'wss') {
    return bad(
      `A forwarding proxy cannot speak TLS for the client: for ${name}:// send CONNECT host:port and do TLS through the tunnel (RFC 9110 §9.3.6).`,
    );
  }
  const rest = target.slice(scheme[0].length);
  const slash = rest.search(/[/?#]/);
  const authorityText = slash < 0 ? rest : rest.slice(0, slash);
  let path = slash < 0 ? '/' : rest.slice(slash);
  if (path.startsWith('#')) path = '/';
  path = path.replace(/#.*$/, '');
  if (path.startsWith('?')) path = `/${path}`;
  if (authorityText.includes('@')) {
    return bad('The lab proxies take no user:password@ in the URL.');
  }
  if (/[\s\0]/.test(path)) return bad('The path contains whitespace or NUL.');
  const authority = parseAuthority(authorityText, 80);
  if (!authority.ok) return authority;
  return { ok: true, target: { ...authority.target, path, form: 'absolute' } };
}

export interface Destinations {
  /** The lab server's own ports (http, and https when that listener is on). */
  readonly ports: readonly number[];
  /** The address the lab server listens on, besides the loopback names. */
  readonly labHost: string;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (m === null) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((n) => n <= 255) ? parts : null;
}

/** Why an address is off limits, in words: the class of address it is. */
function addressClass(host: string): string {
  const v4 = ipv4(host);
  if (v4 !== null) {
    const [a, b] = v4 as [number, number, number, number];
    if (a === 127) return "a loopback address other than the lab server's";
    if (a === 169 && b === 254)
      return 'a link-local address (169.254.0.0/16, RFC 3927), where cloud metadata services live';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) {
      return 'a private network address (RFC 1918)';
    }
    if (a === 0) return 'the "this network" address 0.0.0.0/8';
    return 'an address on another machine';
  }
  if (host.includes(':')) {
    if (/^fe[89ab]/i.test(host)) return 'an IPv6 link-local address (fe80::/10)';
    if (/^f[cd]/i.test(host)) return 'an IPv6 unique local address (fc00::/7)';
    return 'an IPv6 address other than ::1';
  }
  return 'a host name other than localhost (the proxy resolves no names, so DNS cannot point it elsewhere)';
}

/**
 * Null when the lab's proxies may open a connection there, else the reason they refuse (403):
 * they exist to show the lab's own traffic, so they must not become a way into this machine's
 * other services or the network.
 */
export function refuseDestination(target: ProxyTarget, allowed: Destinations): string | null {
  const hostOk = LOOPBACK_NAMES.has(target.host) || target.host === allowed.labHost.toLowerCase();
  const ports = allowed.ports.join(' and ');
  if (!hostOk) {
    return `The lab proxies only reach the lab server itself (${allowed.labHost} port ${ports}); ${target.host} is ${addressClass(target.host)}.`;
  }
  if (!allowed.ports.includes(target.port)) {
    return `The lab proxies only reach the lab server's own port${allowed.ports.length > 1 ? 's' : ''} (${ports}), not port ${target.port} on this machine, so they cannot be used to reach other local services (ssh on 22, databases, ...).`;
  }
  return null;
}
