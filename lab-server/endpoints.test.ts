import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HttpEndpoint, WebSocketEndpoint } from './endpoints.ts';
import { startTestLab, type TestLab } from './test-support/lab.ts';

/** An endpoint that answers each message with what it was told about the request. */
const whoami: WebSocketEndpoint = {
  path: '/trace',
  route: 'trace',
  maxPayload: 16,
  open(ws, request, context) {
    ws.on('message', (data) => {
      ws.send(
        JSON.stringify({
          got: data.toString(),
          query: request.url.searchParams.get('q'),
          http: context.ports.http,
          conn: request.connection.tap.route,
        }),
      );
    });
  },
};

const hello: HttpEndpoint = {
  prefix: '/hello',
  handle(req, res) {
    res.end(`hello ${req.url}`);
  },
};

describe('endpoints with their own files', () => {
  let lab: TestLab;
  let origin: string;

  beforeAll(async () => {
    lab = await startTestLab({ endpoints: { websocket: [whoami], http: [hello] } });
    origin = lab.origin;
  });
  afterAll(() => lab.close());

  it('routes a WebSocket path to its endpoint, with the query, the context and the route', async () => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/trace?q=42`);
    await once(ws, 'open');
    ws.send('hi');
    const [data] = await once(ws, 'message');
    expect(JSON.parse(String(data))).toEqual({
      got: 'hi',
      query: '42',
      http: lab.port,
      conn: 'trace',
    });
    ws.close();
  });

  it("closes with 1009 past the endpoint's own maxPayload (RFC 6455 §7.4.1)", async () => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/trace`);
    await once(ws, 'open');
    ws.send('x'.repeat(17));
    const [code] = await once(ws, 'close');
    expect(code).toBe(1009);
  });

  it('refuses a browser page from another origin before the endpoint sees it (RFC 6455 §10.2)', async () => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/trace`, {
      headers: { Origin: 'http://evil.example' },
    });
    const [, res] = await once(ws, 'unexpected-response');
    expect(res.statusCode).toBe(403);
    ws.on('error', () => {});
    ws.terminate();
  });

  it('routes an HTTP path prefix to its endpoint, and /lab.json tells the ports', async () => {
    expect(await (await fetch(`${origin}/hello/there`)).text()).toBe('hello /hello/there');
    const info = await (await fetch(`${origin}/lab.json`)).json();
    expect(info).toEqual({ v: 1, ports: { http: lab.port, https: null }, classroom: false });
  });

  it('explains that the classroom endpoints exist only in classroom mode', async () => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/classroom`);
    const [, res] = await once(ws, 'unexpected-response');
    expect(res.statusCode).toBe(404);
    let body = '';
    for await (const chunk of res) body += chunk;
    expect(body).toContain('pnpm lab --classroom');
    ws.on('error', () => {});
    ws.terminate();
  });
});
