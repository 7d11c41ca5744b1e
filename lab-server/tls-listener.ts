/**
 * The lab server's second port: HTTPS and wss:// with the lab's self-signed certificate. Each
 * connection does its TLS handshake here (RFC 8446), then goes to the same code as a plain
 * connection (`LabConnection` and its tap) as a TLSSocket, which reads and writes plaintext: the
 * site, /echo and every endpoint work the same, and the tap annotates the decrypted bytes.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { Endpoint } from '../protocol/annotations.ts';
import type { Registry } from './registry.ts';
import type { TlsInfo } from './tap.ts';

export interface TlsListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  readonly cert: string;
  readonly registry: Registry;
  /** How long a client has to finish the handshake (the request-head timeout, reused). */
  readonly handshakeTimeoutMs: number;
  /** A connection whose handshake succeeded: serve it as any other. */
  accept(socket: TLSSocket, tls: { info: TlsInfo; acceptedAt: number }): void;
}

export interface TlsListener {
  readonly port: number;
  /** Stops accepting and drops connections still in their handshake. */
  close(): Promise<void>;
}

/** First byte of a TLS record carrying a handshake message (RFC 8446 §5.1, ContentType 22). */
const HANDSHAKE_RECORD = 0x16;

export async function listenTls(options: TlsListenerOptions): Promise<TlsListener> {
  // ALPN offers HTTP/1.1 only: WebSocket over HTTP/2 (RFC 8441) is not what this lab shows, and a
  // browser that agreed on h2 would never send the Upgrade request of RFC 6455 §4.1.
  const secureContext = createSecureContext({
    key: options.key,
    cert: options.cert,
    minVersion: 'TLSv1.2',
  });
  const handshaking = new Set<Socket>();
  const endsOf = new WeakMap<Socket, { client: Endpoint; server: Endpoint }>();
  const { registry } = options;

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (raw) => {
    const acceptedAt = registry.now();
    // Known now: a closed socket no longer says who it was connected to.
    const ends = {
      client: { address: raw.remoteAddress ?? '', port: raw.remotePort ?? 0 },
      server: { address: raw.localAddress ?? '', port: raw.localPort ?? 0 },
    };
    endsOf.set(raw, ends);
    handshaking.add(raw);
    raw.on('error', ignore);
    const timer = setTimeout(() => {
      handshaking.delete(raw);
      failed(raw, acceptedAt, `No TLS handshake within ${options.handshakeTimeoutMs / 1000} s.`);
      raw.destroy();
    }, options.handshakeTimeoutMs);
    timer.unref();
    raw.on('close', () => {
      clearTimeout(timer);
      // Gone before the handshake ended, without an alert: Node's TLS client and curl do that
      // when they do not trust the certificate.
      if (handshaking.delete(raw)) {
        failed(
          raw,
          acceptedAt,
          'The client closed the connection during the TLS handshake. A client that does not trust the self-signed certificate does this (browsers send an alert first); one that trusts it gets the certificate in its CA list.',
        );
      }
    });
    raw.once('data', (first: Buffer) => {
      raw.pause();
      if (first[0] !== HANDSHAKE_RECORD) {
        clearTimeout(timer);
        plainOnTlsPort(raw, first, acceptedAt);
        return;
      }
      // The bytes read so far go back into the socket; TLSSocket reads them first.
      raw.unshift(first);
      const tls = new TLSSocket(raw, {
        isServer: true,
        secureContext,
        ALPNProtocols: ['http/1.1'],
      });
      tls.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (!handshaking.has(raw)) return; // after the handshake: LabConnection's business
        handshaking.delete(raw);
        failed(raw, acceptedAt, explainTlsError(error));
        raw.destroy();
      });
      // The client's FIN before the handshake ended: the server is half-open (allowHalfOpen)
      // and would wait; nothing can follow, so it closes too.
      tls.on('end', () => {
        if (handshaking.has(raw)) tls.destroy();
      });
      tls.once('secure', () => {
        clearTimeout(timer);
        handshaking.delete(raw);
        const protocol = tls.alpnProtocol;
        const servername = (tls as TLSSocket & { servername?: string | false }).servername;
        options.accept(tls, {
          acceptedAt,
          info: {
            version: tls.getProtocol(),
            cipher: tls.getCipher()?.standardName ?? null,
            alpn: typeof protocol === 'string' ? protocol : null,
            servername: typeof servername === 'string' && servername !== '' ? servername : null,
            resumed: tls.isSessionReused(),
            handshakeMs: Math.round((registry.now() - acceptedAt) * 1000) / 1000,
            error: null,
          },
        });
      });
    });
  });

  /** Annotates a connection that never got past its handshake: opened, why, closed. */
  function failed(raw: Socket, acceptedAt: number, error: string): void {
    const { client, server: local } = endsOf.get(raw) as { client: Endpoint; server: Endpoint };
    const { conn } = registry.open(client, 'unknown');
    registry.emit({
      type: 'connection-opened',
      conn,
      client,
      server: local,
      tls: true,
      openedAt: acceptedAt,
    });
    registry.emit({
      type: 'tls',
      conn,
      version: null,
      cipher: null,
      alpn: null,
      servername: null,
      resumed: false,
      handshakeMs: Math.round((registry.now() - acceptedAt) * 1000) / 1000,
      error,
    });
    registry.emit({
      type: 'socket-closed',
      conn,
      bytesIn: raw.bytesRead,
      bytesOut: raw.bytesWritten,
      error: null,
    });
    registry.close(conn);
  }

  /**
   * A client that speaks plain HTTP (or anything else) to the TLS port. Its bytes are not a TLS
   * record, so no handshake can follow; it gets a plain-text answer it can read, as nginx does.
   */
  function plainOnTlsPort(raw: Socket, first: Buffer, acceptedAt: number): void {
    const start = first.subarray(0, 16).toString('latin1');
    const looksHttp = /^[A-Z]{3,8} /.test(start);
    const port = (server.address() as AddressInfo).port;
    const explanation = looksHttp
      ? `The client sent plain HTTP ("${visibleStart(first)}") to the TLS port ${port}: this port speaks HTTPS and wss:// only. Use https:// or wss:// here, or the plain port for http:// and ws://.`
      : `The first byte was 0x${(first[0] ?? 0).toString(16).padStart(2, '0')}, not 0x16, the record type that starts a TLS handshake (RFC 8446 §5.1): the client does not speak TLS.`;
    failed(raw, acceptedAt, explanation);
    handshaking.delete(raw);
    if (looksHttp) {
      const body = `${explanation}\n`;
      raw.end(
        `HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    } else {
      raw.end();
    }
    // Read and drop the rest, so the client's FIN is seen and the socket released.
    raw.resume();
    setTimeout(() => raw.destroy(), 2000).unref();
  }

  server.listen(options.port, options.host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      for (const raw of handshaking) raw.destroy();
      await closed;
    },
  };
}

/** The first request line, printable, for the explanation. */
function visibleStart(bytes: Buffer): string {
  const line = bytes.subarray(0, 80).toString('latin1').split('\r\n', 1)[0] ?? '';
  return line.replace(/[^\x20-\x7e]/g, '.');
}

/** Why a handshake failed, in words, from OpenSSL's error. */
export function explainTlsError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  if (/ALERT_(CERTIFICATE_UNKNOWN|UNKNOWN_CA|BAD_CERTIFICATE)/.test(code)) {
    return `The client refused the lab's certificate (TLS alert: ${code
      .replace(/^ERR_SSL_(SSLV3_|TLSV1_)?ALERT_/, '')
      .toLowerCase()
      .replaceAll(
        '_',
        ' ',
      )}). It is self-signed, so a browser or client trusts it only once told to; the browser's warning page is this refusal (RFC 8446 §6.2).`;
  }
  if (/VERSION|PROTOCOL/.test(code)) {
    return `No TLS version both sides speak (${code}): the lab server accepts TLS 1.2 and 1.3.`;
  }
  if (code === 'ECONNRESET' || /socket hang up/.test(error.message)) {
    return 'The client closed the connection during the TLS handshake.';
  }
  return `The TLS handshake failed: ${error.message.slice(0, 200)}${code === '' ? '' : ` (${code})`}`;
}

function ignore(): void {}
