/**
 * /echo's close orders on real sockets: who sends the first close frame and the first FIN, as the
 * annotations say and as a raw TCP client sees it, and the strict parsing of the options.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../protocol/annotations.ts';
import { MAX_REASON_BYTES, parseEchoOptions } from './echo.ts';
import { EventLog } from './test-support/events.ts';
import { clientClose, clientFrame, closeOf, OP } from './test-support/frames.ts';
import { delay, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient, upgradeRequest } from './test-support/raw-client.ts';
import { WsClient } from './test-support/ws-client.ts';

let t: TestLab;
let log: EventLog;

beforeAll(async () => {
  t = await startTestLab();
  log = new EventLog(t.lab.registry);
});
afterAll(async () => {
  log.dispose();
  await t.close();
});

/** The closing events of one connection, as `kind direction` strings, in stream order. */
function closingSteps(conn: number): string[] {
  return log
    .forConn(conn)
    .filter((e) => e.type === 'close-frame' || e.type === 'fin' || e.type === 'socket-closed')
    .map((e) =>
      e.type === 'socket-closed'
        ? `closed frame:${e.closeFrameFirst} fin:${e.finFirst}`
        : `${e.type} ${e.direction === 'client-to-server' ? 'C→S' : 'S→C'}`,
    );
}

async function socketClosed(conn: number): Promise<Extract<LabEvent, { type: 'socket-closed' }>> {
  return log.waitFor('socket-closed', (e) => e.conn === conn, 5000);
}

async function rawEcho(path: string): Promise<{ raw: RawClient; conn: number }> {
  const raw = await RawClient.connect(t.port);
  const head = await raw.upgrade({ host: t.host, path });
  expect(head.status).toBe(101);
  return { raw, conn: await log.connOf(raw.localPort) };
}

describe('close orders on /echo (RFC 6455 §7.1.1, §7.1.2)', () => {
  it('by default the client closes first and the server sends the first FIN right after its reply', async () => {
    const { raw, conn } = await rawEcho('/echo');
    raw.write(clientClose(1000, 'done'));
    const reply = await raw.frame((f) => f.opcode === OP.close, 'the close reply');
    expect(closeOf(reply)).toEqual({ code: 1000, reason: 'done' });
    // The server's FIN arrives while this client has not ended its side.
    await raw.fin();
    expect(raw.ended).toBe(true);
    raw.end();
    const closed = await socketClosed(conn);
    expect(closed.closeFrameFirst).toBe('client');
    expect(closed.finFirst).toBe('server');
    expect(closingSteps(conn)).toEqual([
      'close-frame C→S',
      'close-frame S→C',
      'fin S→C',
      'fin C→S',
      'closed frame:client fin:server',
    ]);
    const frames = log.of('close-frame', conn);
    expect(frames.map((f) => f.initiated)).toEqual([true, false]);
  });

  it('close=server&after=1 echoes one message, then the server sends the first close frame with the code and reason asked for, and the first FIN', async () => {
    const { raw, conn } = await rawEcho('/echo?close=server&after=1&code=4001&reason=bye%20now');
    await delay(100);
    // Nothing before the first message is echoed.
    expect(raw.frames()).toEqual([]);
    raw.write(clientFrame(OP.text, 'hello'));
    const close = await raw.frame((f) => f.opcode === OP.close, "the server's close frame");
    const frames = raw.frames();
    expect(frames[0]?.opcode).toBe(OP.text);
    expect(frames[0]?.payload.toString()).toBe('hello');
    expect(closeOf(close)).toEqual({ code: 4001, reason: 'bye now' });
    // The server waits for the client's close frame before it ends TCP (RFC 6455 §7.1.1).
    await delay(150);
    expect(raw.ended).toBe(false);
    raw.write(clientClose(4001, 'bye now'));
    await raw.fin();
    expect(raw.ended).toBe(true);
    raw.end();
    const closed = await socketClosed(conn);
    expect(closed.closeFrameFirst).toBe('server');
    expect(closed.finFirst).toBe('server');
    expect(closingSteps(conn)).toEqual([
      'close-frame S→C',
      'close-frame C→S',
      'fin S→C',
      'fin C→S',
      'closed frame:server fin:server',
    ]);
    const first = log.of('close-frame', conn)[0];
    expect(first).toMatchObject({ code: 4001, reason: 'bye now', initiated: true });
  });

  it('close=server&delay=300 sends the close frame no sooner than 300 ms after the 101', async () => {
    const started = Date.now();
    const { raw } = await rawEcho('/echo?close=server&delay=300');
    await raw.frame((f) => f.opcode === OP.close, "the server's close frame", 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(closeOf(raw.frames()[0] as never)).toEqual({ code: 1000, reason: '' });
    raw.destroy();
  });

  it('fin=client makes the server wait for the client’s FIN after the closing handshake', async () => {
    const { raw, conn } = await rawEcho('/echo?fin=client');
    raw.write(clientClose(1000));
    await raw.frame((f) => f.opcode === OP.close, 'the close reply');
    // The closing handshake is complete; the server holds its FIN.
    await delay(400);
    expect(raw.ended).toBe(false);
    expect(raw.closed).toBe(false);
    raw.end();
    await raw.fin();
    expect(raw.ended).toBe(true);
    const closed = await socketClosed(conn);
    expect(closed.finFirst).toBe('client');
    expect(closingSteps(conn)).toEqual([
      'close-frame C→S',
      'close-frame S→C',
      'fin C→S',
      'fin S→C',
      'closed frame:client fin:client',
    ]);
    const [clientFin, serverFin] = log.of('fin', conn);
    expect((serverFin?.t ?? 0) - (clientFin?.t ?? 0)).toBeGreaterThanOrEqual(0);
  });

  it('fin=client holds the FIN on a connection that carried plain HTTP before its upgrade too', async () => {
    const raw = await RawClient.connect(t.port);
    raw.write(`GET / HTTP/1.1\r\nHost: ${t.host}\r\n\r\n`);
    await raw.until(() => raw.received.includes('<h1>home</h1>'), 'the page');
    const before = raw.receivedLength;
    raw.write(upgradeRequest({ host: t.host, path: '/echo?fin=client' }));
    await raw.until(() => raw.received.subarray(before).includes('\r\n\r\n'), 'the 101');
    expect(raw.received.subarray(before).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    raw.write(clientClose(1000));
    await raw.until(
      () => raw.received.subarray(before).includes(Buffer.from([0x88, 0x02, 0x03, 0xe8])),
      'the close reply',
    );
    await delay(400);
    expect(raw.ended).toBe(false);
    raw.end();
    await raw.fin();
    expect(raw.ended).toBe(true);
  });

  it('close=server&fin=client: the server starts the closing handshake and the client sends the first FIN', async () => {
    const client = new WsClient(`${t.ws}/echo?close=server&fin=client&code=1001&reason=later`);
    await client.opened;
    const conn = await log.connOf(client.localPort);
    expect(await client.closed).toEqual({ code: 1001, reason: 'later' });
    const closed = await socketClosed(conn);
    expect(closed.closeFrameFirst).toBe('server');
    expect(closed.finFirst).toBe('client');
  });

  it('a ws client closing first gets the server’s FIN first by default', async () => {
    const client = await WsClient.open(`${t.ws}/echo?console=abc123`);
    const conn = await log.connOf(client.localPort);
    client.ws.send('x');
    await client.next();
    await client.close(1000, 'bye');
    const closed = await socketClosed(conn);
    expect(closed.closeFrameFirst).toBe('client');
    expect(closed.finFirst).toBe('server');
  });

  it('a connection cut without a close frame reports no close frame first', async () => {
    const { raw, conn } = await rawEcho('/echo');
    raw.end();
    const closed = await socketClosed(conn);
    expect(closed.closeFrameFirst).toBeNull();
    expect(closed.finFirst).toBe('client');
  });

  it('keeps who closed first even when nobody observed the frames', async () => {
    log.dispose();
    const raw = await RawClient.connect(t.port);
    await raw.upgrade({ host: t.host, path: '/echo?close=server' });
    await raw.frame((f) => f.opcode === OP.close, "the server's close frame");
    log = new EventLog(t.lab.registry);
    raw.write(clientClose(1000));
    await raw.fin();
    raw.end();
    const closed = await log.waitFor('socket-closed', () => true, 5000);
    expect(closed.closeFrameFirst).toBe('server');
    expect(closed.finFirst).toBe('server');
  });
});

describe('bad /echo close options are refused with 400, naming the parameter', () => {
  const cases: readonly [string, string, string][] = [
    ['close=banana', 'close', 'close must be "server"'],
    ['close=server&close=client', 'close', 'close is given twice'],
    ['fin=both', 'fin', 'fin must be "client"'],
    ['after=3', 'after', 'after applies only when the server closes first'],
    ['code=4000', 'code', 'code applies only when the server closes first'],
    ['close=server&after=-1', 'after', 'after must be a whole number from 0 to 1000'],
    ['close=server&after=1001', 'after', 'after must be a whole number from 0 to 1000'],
    ['close=server&delay=1e3', 'delay', 'delay must be a whole number from 0 to 60000'],
    ['close=server&code=abc', 'code', 'code must be a status code of four digits'],
    ['close=server&code=1005', 'code', '1005 No Status Received must never be sent'],
    ['close=server&code=1006', 'code', 'RFC 6455 §7.4.1'],
    ['close=server&code=1010', 'code', 'cannot be sent by a server'],
    ['close=server&code=2000', 'code', 'RFC 6455 §7.4.2'],
    ['close=server&reason=%ff', 'reason', 'not valid percent-encoded UTF-8'],
    [`close=server&reason=${'a'.repeat(124)}`, 'reason', 'at most 123 bytes are left'],
  ];

  it.each(cases)('/echo?%s → 400 about %s', async (query, parameter, words) => {
    const parsed = parseEchoOptions(`/echo?${query}`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.parameter).toBe(parameter);
    const raw = await RawClient.connect(t.port);
    const head = await raw.upgrade({ host: t.host, path: `/echo?${query}` });
    expect(head.statusLine).toBe('HTTP/1.1 400 Bad Request');
    await raw.fin();
    raw.end();
    const body = raw.received.subarray(head.length).toString('utf8');
    expect(body).toContain(words);
    expect(body.startsWith(parameter)).toBe(true);
  });

  it('accepts good values and leaves other parameters (the labs’ tags) alone', async () => {
    expect(parseEchoOptions('/echo?console=x&builder=1&by-hand=2')).toEqual({
      ok: true,
      options: { close: 'client', after: 0, delayMs: 0, code: 1000, reason: '', fin: 'server' },
    });
    expect(
      parseEchoOptions(
        `/echo?close=server&after=2&delay=60000&code=1011&reason=${encodeURIComponent('é'.repeat(60))}+xy&fin=client`,
      ),
    ).toEqual({
      ok: true,
      options: {
        close: 'server',
        after: 2,
        delayMs: 60000,
        code: 1011,
        reason: `${'é'.repeat(60)} xy`,
        fin: 'client',
      },
    });
    expect(new TextEncoder().encode(`${'é'.repeat(60)} xy`).length).toBe(MAX_REASON_BYTES);
  });
});
