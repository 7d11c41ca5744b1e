import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ProxyLimits, type RunningProxy, startProxy } from './server.ts';

const running: RunningProxy[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(running.splice(0).map((p) => p.close()));
});

async function proxy(limits: Partial<ProxyLimits>) {
  const p = await startProxy({
    mode: 'connect',
    port: 0,
    destinations: () => ({ ports: [1], labHost: '127.0.0.1' }),
    limits,
  });
  running.push(p);
  return p;
}

/** Connects, optionally sends, and collects everything until the proxy closes. */
function exchange(port: number, send?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    sockets.push(socket);
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
    if (send !== undefined) socket.write(send);
  });
}

describe('lab proxy limits', () => {
  it('answers 408 when the request head does not arrive in time', async () => {
    const p = await proxy({ headTimeoutMs: 200 });
    expect(await exchange(p.port, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\n')).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 503 with Proxy-Status connection_limit_reached beyond its connection cap', async () => {
    const p = await proxy({ maxConnections: 1, headTimeoutMs: 2000 });
    const first = netConnect({ host: '127.0.0.1', port: p.port });
    sockets.push(first);
    first.on('error', () => {});
    await new Promise((resolve) => first.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const answer = await exchange(p.port);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain('error=connection_limit_reached');
  });

  it('answers 502 when the lab port it may reach has nothing listening', async () => {
    const p = await proxy({});
    const answer = await exchange(
      p.port,
      'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 502 /);
    expect(answer).toContain('connection refused');
  });
});
