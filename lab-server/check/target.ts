/**
 * The URL the checker tests. It connects to this address and nowhere else: no redirects are
 * followed, and no other host is ever derived from what the server answers.
 */

export interface Target {
  /** The URL as normalised by WHATWG URL parsing, e.g. `ws://127.0.0.1:8080/chat`. */
  readonly url: string;
  readonly secure: boolean;
  /** Host name or address without brackets, for `net.connect`. */
  readonly host: string;
  readonly port: number;
  /** Path and query as sent in the request line. */
  readonly path: string;
  /** The Host header: host, plus the port when it is not the scheme's default (RFC 6455 §4.1). */
  readonly hostHeader: string;
}

/** Parses `ws://` or `wss://` URLs; throws an Error whose message a learner can act on. */
export function parseTarget(text: string): Target {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(
      `"${text.slice(0, 200)}" is not a URL. Give the address of your server's WebSocket endpoint, such as ws://127.0.0.1:8080/ (RFC 6455 §3).`,
    );
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    const hint =
      url.protocol === 'http:' || url.protocol === 'https:'
        ? ` Use ${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}${url.pathname}${url.search} instead: the scheme of a WebSocket URL is ws or wss.`
        : ' The scheme of a WebSocket URL is ws or wss.';
    throw new Error(
      `${url.protocol.replace(/:$/, '')}:// is not a WebSocket URL (RFC 6455 §3).${hint}`,
    );
  }
  if (url.hash !== '') {
    throw new Error('A WebSocket URL has no #fragment (RFC 6455 §3): leave it out.');
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error('The checker does not send credentials: leave user:password@ out of the URL.');
  }
  const secure = url.protocol === 'wss:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    url: url.href,
    secure,
    host,
    port,
    path: `${url.pathname === '' ? '/' : url.pathname}${url.search}`,
    hostHeader: url.host,
  };
}

/** Names and addresses that only reach this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return (
    bare === 'localhost' ||
    bare === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
  );
}
