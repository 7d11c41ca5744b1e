/**
 * What one message costs on the wire, measured for chapter 1 ("The big picture"): Chromium polls
 * the lab server with fetch(), and sends and receives a message on a WebSocket to /echo.
 *
 * - HTTP: a counting relay sits between Chromium and the lab server and records the exact request
 *   and response heads that cross it (it rewrites only the Host port so the lab server accepts
 *   the request; both ports have the same number of digits, which the run checks).
 * - WebSocket: the lab server's own annotations (/observe) give the handshake's length and each
 *   frame's header bytes, both ways.
 *
 * Run: `pnpm build && pnpm tsx bench/overhead.ts`. Prints the numbers as a table; a measurement,
 * not a test.
 */
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { launchChromium } from '../e2e/browser.ts';
import { startLabServer } from '../lab-server/server.ts';
import { type LabEvent, wirePayloadHex } from '../protocol/annotations.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const lab = await startLabServer({ host: '127.0.0.1', port: 0, root });
const labPort = Number(new URL(lab.url).port);

/** Heads seen by the relay, in order: [request head, response head] per request. */
const heads: { request: string; response: string }[] = [];

function headOf(buffer: Buffer): string | null {
  const end = buffer.indexOf('\r\n\r\n');
  return end === -1 ? null : buffer.subarray(0, end + 4).toString('latin1');
}

let relayPort = 0;
const relay = createServer((client: Socket) => {
  const upstream = connect(labPort, '127.0.0.1');
  let requestBuffer = Buffer.alloc(0);
  let responseBuffer = Buffer.alloc(0);
  let pending: { request: string; response: string } | null = null;
  client.on('data', (chunk: Buffer) => {
    requestBuffer = Buffer.concat([requestBuffer, chunk]);
    const head = headOf(requestBuffer);
    if (head === null) return;
    requestBuffer = requestBuffer.subarray(head.length);
    pending = { request: head, response: '' };
    upstream.write(
      head.replace(`Host: 127.0.0.1:${relayPort}`, `Host: 127.0.0.1:${labPort}`),
      'latin1',
    );
  });
  upstream.on('data', (chunk: Buffer) => {
    client.write(chunk);
    responseBuffer = Buffer.concat([responseBuffer, chunk]);
    const head = headOf(responseBuffer);
    if (head !== null && pending !== null) {
      pending.response = head;
      heads.push(pending);
      pending = null;
      const length = /content-length: (\d+)/i.exec(head);
      responseBuffer = responseBuffer.subarray(head.length + Number(length?.[1] ?? 0));
    }
  });
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
relayPort = (relay.address() as { port: number }).port;
if (String(relayPort).length !== String(labPort).length) {
  throw new Error(`ports ${relayPort} and ${labPort} differ in length; run again`);
}

// The lab server's view of the WebSocket, from its own annotations.
const events: LabEvent[] = [];
const observer = new WebSocket(`ws://127.0.0.1:${labPort}/observe`);
observer.on('message', (data) => {
  const event = JSON.parse(String(data)) as LabEvent | { type: 'snapshot' };
  if (event.type !== 'snapshot') events.push(event as LabEvent);
});
await new Promise((resolve) => observer.once('open', resolve));

const browser = await launchChromium();
const page = await browser.newPage();
// A page from the relay, so the fetches below go through it as same-origin polls.
await page.goto(`http://127.0.0.1:${relayPort}/`);
heads.length = 0;
await page.evaluate(async () => {
  for (let i = 0; i < 3; i++) await (await fetch('/favicon.svg', { cache: 'no-store' })).text();
});
await page.goto(`http://127.0.0.1:${labPort}/`);
await page.evaluate(
  (url) =>
    new Promise<void>((resolve) => {
      const socket = new WebSocket(url);
      socket.onopen = () => socket.send('hello');
      socket.onmessage = () => {
        socket.close(1000);
        resolve();
      };
    }),
  `ws://127.0.0.1:${labPort}/echo`,
);
await new Promise((resolve) => setTimeout(resolve, 300));
await browser.close();
observer.close();
relay.close();
await lab.close();

const poll = heads.at(-1);
if (poll === undefined) throw new Error('the relay saw no request');
console.log('HTTP poll (Chromium fetch to the lab server, last of 3 on a kept-alive connection)');
console.log(`  request head:  ${poll.request.length} bytes`);
console.log(`  response head: ${poll.response.length} bytes`);
console.log(`  total headers per poll: ${poll.request.length + poll.response.length} bytes`);
const agent = poll.request.split('\r\n').find((line) => line.startsWith('User-Agent:'));
console.log(`  of which the User-Agent line: ${(agent?.length ?? 0) + 2} bytes`);
console.log('--- request head ---');
console.log(poll.request.replace(/\r\n/g, '\n'));
console.log('--- response head ---');
console.log(poll.response.replace(/\r\n/g, '\n'));

const request = events.find((e) => e.type === 'handshake-request');
const response = events.find((e) => e.type === 'handshake-response');
const frames = events.filter(
  (e): e is Extract<LabEvent, { type: 'frame' }> => e.type === 'frame' && e.frame.opcode === 1,
);
console.log('WebSocket (Chromium to /echo, lab server annotations)');
if (request?.type === 'handshake-request' && response?.type === 'handshake-response') {
  console.log(
    `  handshake request: ${request.length} bytes, response: ${response.length} bytes (once per connection)`,
  );
}
for (const { direction, frame } of frames) {
  console.log(
    `  ${direction}: header ${frame.headerLength} bytes, payload ${frame.payloadLength} bytes: ${(frame.headerHex + wirePayloadHex(frame)).replace(/(..)(?!$)/g, '$1 ')}`,
  );
}
