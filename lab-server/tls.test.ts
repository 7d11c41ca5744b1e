import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from 'ws';
import { toHexString } from '../protocol/annotations.ts';
import { type LabCertificate, loadCertificate } from './certificate.ts';
import { EventLog } from './test-support/events.ts';
import { eventually, startTestLab, type TestLab } from './test-support/lab.ts';
import { WsClient } from './test-support/ws-client.ts';

let certDir: string;
let certificate: LabCertificate;
let t: TestLab;
let tlsPort: number;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'wslab-cert-'));
  certificate = await loadCertificate(certDir);
  t = await startTestLab({ tls: { port: 0, key: certificate.key, cert: certificate.cert } });
  tlsPort = t.lab.tlsPort as number;
});
afterAll(async () => {
  await t.close();
  rmSync(certDir, { recursive: true, force: true });
});

function httpsText(
  path: string,
  options: { host?: string; servername?: string; ca?: string } = {},
): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const requestOptions: RequestOptions & { ALPNProtocols: string[] } = {
      host: '127.0.0.1',
      port: tlsPort,
      path,
      ca: options.ca ?? certificate.cert,
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      headers: { host: options.host ?? `127.0.0.1:${tlsPort}` },
      agent: false,
      ALPNProtocols: ['http/1.1'],
    };
    const req = httpsGet(requestOptions, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol ?? null,
        }),
      );
    });
    req.on('error', reject);
  });
}

describe('the TLS listener (HTTPS and wss://)', () => {
  it('listens on its own port and tells pages that port in /lab.json', async () => {
    expect(tlsPort).toBeGreaterThan(0);
    expect(tlsPort).not.toBe(t.port);
    expect(t.lab.httpsUrl).toBe(`https://127.0.0.1:${tlsPort}/`);
    const info = await httpsText('/lab.json');
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toEqual({
      v: 1,
      ports: { http: t.port, https: tlsPort, proxies: null },
      classroom: false,
    });
  });

  it('serves the same site over HTTPS, verified against the generated certificate for 127.0.0.1', async () => {
    const page = await httpsText('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>home</h1>');
    expect(page.alpn).toBe('http/1.1');
  });

  it('covers the name localhost too (subjectAltName, RFC 6125 §6)', async () => {
    const page = await httpsText('/', { servername: 'localhost', host: `localhost:${tlsPort}` });
    expect(page.status).toBe(200);
  });

  it('echoes over wss:// with the certificate trusted as the only CA, and annotates the TLS handshake before the request', async () => {
    const log = new EventLog(t.lab.registry);
    // ws hands TLS options to tls.connect; its ClientOptions type lists only some of them.
    const tlsOptions = {
      ca: certificate.cert,
      servername: 'localhost',
      ALPNProtocols: ['http/1.1'],
    };
    const client = await WsClient.open(
      `wss://127.0.0.1:${tlsPort}/echo`,
      tlsOptions as ClientOptions,
    );
    client.ws.send('over TLS');
    const echoed = await client.next();
    expect(echoed.data.toString()).toBe('over TLS');
    const socket = (client.ws as unknown as { _socket: import('node:tls').TLSSocket })._socket;
    const cipher = socket.getCipher().standardName;
    const conn = await log.connOf(socket.localPort as number);
    await client.close();
    await log.waitFor('socket-closed', (e) => e.conn === conn);

    const events = log.forConn(conn);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      'connection-opened',
      'tls',
      'handshake-request',
      'handshake-response',
    ]);
    const opened = log.of('connection-opened', conn)[0];
    expect(opened?.tls).toBe(true);
    expect(opened?.server.port).toBe(tlsPort);
    const tls = log.of('tls', conn)[0];
    expect(tls).toMatchObject({
      version: 'TLSv1.3',
      alpn: 'http/1.1',
      servername: 'localhost',
      resumed: false,
      error: null,
    });
    // RFC 8446 §9.1: TLS_AES_128_GCM_SHA256 must be implemented; OpenSSL prefers AES-256.
    expect(tls?.cipher).toMatch(/^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
    expect(tls?.cipher).toBe(cipher);
    expect(tls?.handshakeMs).toBeGreaterThanOrEqual(0);
    expect(opened?.openedAt).toBeLessThanOrEqual(
      (log.of('handshake-request', conn)[0]?.t as number) - (tls?.handshakeMs as number) + 0.01,
    );

    // The frames are annotated decrypted: the client's masked frame unmasks to the text sent,
    // and the server's echo is the unmasked 0x81 frame of RFC 6455 §5.7.
    const payload = toHexString(Buffer.from('over TLS'));
    const fromClient = log.of('frame', conn).filter((e) => e.direction === 'client-to-server');
    expect(fromClient[0]?.frame).toMatchObject({ opcode: 1, mask: true, payloadLength: 8 });
    expect(fromClient[0]?.frame.unmaskedHex).toBe(payload);
    expect(fromClient[0]?.frame.headerHex.slice(0, 4)).toBe('8188');
    const fromServer = log.of('frame', conn).filter((e) => e.direction === 'server-to-client');
    expect(fromServer[0]?.frame.headerHex).toBe('8108');
    expect(fromServer[0]?.frame.unmaskedHex).toBe(payload);
    const message = log.of('message', conn).find((e) => e.direction === 'client-to-server');
    expect(message?.message.text).toBe('over TLS');
    log.dispose();
  });

  it('accepts wss:// from the lab’s https pages (Origin https://127.0.0.1:TLS_PORT) and refuses a foreign origin with 403', async () => {
    const own = await WsClient.open(`wss://127.0.0.1:${tlsPort}/echo`, {
      ca: certificate.cert,
      origin: `https://127.0.0.1:${tlsPort}`,
    });
    await own.close();
    const localhost = await WsClient.open(`wss://127.0.0.1:${tlsPort}/echo`, {
      ca: certificate.cert,
      origin: `https://localhost:${tlsPort}`,
    });
    await localhost.close();
    const foreign = new WsClient(`wss://127.0.0.1:${tlsPort}/echo`, {
      ca: certificate.cert,
      origin: 'https://evil.example',
    });
    await expect(foreign.opened).rejects.toThrow(/403/);
  });

  it('answers plain HTTP on the TLS port with 400 and an explanation, annotates it, and keeps serving', async () => {
    const log = new EventLog(t.lab.registry);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(tlsPort, '127.0.0.1', () => {
        socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${tlsPort}\r\n\r\n`);
      });
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain('plain HTTP ("GET / HTTP/1.1")');
    const failed = await log.waitFor('tls', (e) => e.error !== null);
    expect(failed.error).toMatch(/plain HTTP/);
    expect(log.of('connection-opened', failed.conn)[0]?.tls).toBe(true);
    await log.waitFor('socket-closed', (e) => e.conn === failed.conn);
    log.dispose();
    // Still serving, on both ports.
    expect((await httpsText('/')).status).toBe(200);
    const plain = await WsClient.open(`${t.ws}/echo`);
    await plain.close();
  });

  it('survives a client that rejects the certificate, annotating why the handshake failed', async () => {
    const log = new EventLog(t.lab.registry);
    const error = await new Promise<Error>((resolve) => {
      // No `ca`: Node trusts only its bundled CAs, so the self-signed certificate is refused.
      const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'localhost' });
      socket.on('secureConnect', () => resolve(new Error('unexpectedly trusted')));
      socket.on('error', resolve);
    });
    expect((error as NodeJS.ErrnoException).code).toMatch(
      /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/,
    );
    const failed = await log.waitFor('tls', (e) => e.error !== null);
    expect(failed.error).toMatch(/refused the lab's certificate|closed the connection/);
    log.dispose();
    expect((await httpsText('/')).status).toBe(200);
  });

  it('survives bytes that are not TLS at all, saying which byte', async () => {
    const log = new EventLog(t.lab.registry);
    await new Promise<void>((resolve) => {
      const socket = netConnect(tlsPort, '127.0.0.1', () =>
        socket.write(Buffer.from([0x00, 0x01])),
      );
      socket.on('close', () => resolve());
      socket.on('error', () => {});
      socket.resume();
    });
    const failed = await log.waitFor('tls', (e) => e.error !== null);
    expect(failed.error).toMatch(/first byte was 0x00, not 0x16/);
    log.dispose();
  });

  it('closes the TLS listener with the server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wslab-cert-'));
    try {
      const other = await startTestLab({
        tls: { port: 0, key: certificate.key, cert: certificate.cert },
      });
      const port = other.lab.tlsPort as number;
      await other.close();
      const refused = await new Promise<string>((resolve) => {
        const socket = netConnect(port, '127.0.0.1');
        socket.on('connect', () => resolve('connected'));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
      });
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has no TLS listener unless asked', async () => {
    await eventually(() => true, 'nothing');
    const plain = await startTestLab();
    expect(plain.lab.tlsPort).toBeNull();
    expect(plain.lab.context.ports.https).toBeNull();
    await plain.close();
  });
});
