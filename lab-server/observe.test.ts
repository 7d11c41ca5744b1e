import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATION_SCHEMA_VERSION,
  type LabEvent,
  type ObserveSnapshot,
} from '../protocol/annotations.ts';
import { CrashWatch } from './test-support/crashes.ts';
import { EventLog } from './test-support/events.ts';
import { clientFrame, closeOf, OP, parseWireFrames } from './test-support/frames.ts';
import { liveHeap } from './test-support/heap.ts';
import { delay, eventually, startTestLab, type TestLab } from './test-support/lab.ts';
import { RawClient } from './test-support/raw-client.ts';
import { expectStillEchoes, WsClient } from './test-support/ws-client.ts';

let t: TestLab;

beforeAll(async () => {
  t = await startTestLab();
});
afterAll(async () => {
  await t.close();
});

/** The conn number the registry gave the /echo connection from this client port. */
async function connOf(lab: TestLab, client: WsClient): Promise<number> {
  const port = client.localPort;
  await eventually(
    () => lab.lab.registry.snapshot().connections.some((c) => c.client.port === port),
    `conn for port ${port}`,
  );
  return lab.lab.registry.snapshot().connections.find((c) => c.client.port === port)
    ?.conn as number;
}

/** Reads JSON messages until one matches. */
async function until(
  observer: WsClient,
  match: (event: LabEvent) => boolean,
  seen: LabEvent[] = [],
): Promise<LabEvent[]> {
  for (;;) {
    const event = (await observer.nextJson()) as unknown as LabEvent;
    seen.push(event);
    if (match(event)) return seen;
  }
}

describe('/observe streams the annotations as JSON text messages', () => {
  it('sends a snapshot of the open /echo connections first, then their events', async () => {
    const echo = await WsClient.open(`${t.ws}/echo`);
    const conn = await connOf(t, echo);
    const observer = await WsClient.open(`${t.ws}/observe`);
    const first = await observer.next();
    expect(first.isBinary).toBe(false);
    const snapshot = JSON.parse(first.data.toString()) as ObserveSnapshot;
    expect(snapshot.v).toBe(ANNOTATION_SCHEMA_VERSION);
    expect(snapshot.type).toBe('snapshot');
    expect(snapshot.connections).toContainEqual({
      conn,
      route: 'echo',
      client: { address: '127.0.0.1', port: echo.localPort },
      openedAt: expect.any(Number),
    });
    expect(snapshot.connections.every((c) => c.route === 'echo')).toBe(true);

    echo.ws.send('watched');
    const seen = await until(
      observer,
      (e) => e.type === 'message' && e.conn === conn && e.direction === 'server-to-client',
    );
    // The handshake's own events may still be on their way (the accept digest is async).
    const mine = seen.filter(
      (e) => e.conn === conn && (e.type === 'frame' || e.type === 'message'),
    );
    expect(
      seen
        .filter((e) => e.conn === conn && !mine.includes(e))
        .every((e) => e.type === 'handshake-request' || e.type === 'handshake-response'),
    ).toBe(true);
    expect(mine.map((e) => `${e.type} ${'direction' in e ? e.direction : ''}`)).toEqual([
      'frame client-to-server',
      'message client-to-server',
      'frame server-to-client',
      'message server-to-client',
    ]);
    const message = mine[1];
    expect(message?.type === 'message' && message.message.text).toBe('watched');
    for (let i = 1; i < seen.length; i++) {
      expect((seen[i] as LabEvent).seq).toBeGreaterThan((seen[i - 1] as LabEvent).seq);
    }
    await observer.close();
    await echo.close();
  });

  it('?id=N sends only connection N, in the snapshot and in the events', async () => {
    const a = await WsClient.open(`${t.ws}/echo`);
    const b = await WsClient.open(`${t.ws}/echo`);
    const connA = await connOf(t, a);
    const connB = await connOf(t, b);
    const observer = await WsClient.open(`${t.ws}/observe?id=${connA}`);
    const snapshot = (await observer.nextJson()) as unknown as ObserveSnapshot;
    expect(snapshot.connections.map((c) => c.conn)).toEqual([connA]);
    b.ws.send('b1');
    a.ws.send('a1');
    b.ws.send('b2');
    await b.next();
    await b.next();
    await a.next();
    await b.close();
    await a.close();
    const seen = await until(observer, (e) => e.type === 'socket-closed');
    expect(seen.every((e) => e.conn === connA)).toBe(true);
    expect(
      seen.filter((e) => e.type === 'message').map((e) => e.type === 'message' && e.message.text),
    ).toEqual(['a1', 'a1']);
    expect(connB).not.toBe(connA);
    await observer.close();
  });

  it.each(['abc', '0', '-1', '1.5'])(
    'closes ?id=%s with 1008, saying what an id is',
    async (id) => {
      const observer = await WsClient.open(`${t.ws}/observe?id=${id}`);
      const closed = await observer.closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/connection number/);
    },
  );

  it('never annotates the observers themselves: events stay proportional to /echo traffic', async () => {
    const lab = await startTestLab();
    const log = new EventLog(lab.lab.registry);
    try {
      const observers = [
        await WsClient.open(`${lab.ws}/observe`),
        await WsClient.open(`${lab.ws}/observe`),
        await WsClient.open(`${lab.ws}/observe?id=1`),
      ];
      const echo = await WsClient.open(`${lab.ws}/echo`);
      const conn = await connOf(lab, echo);
      for (let i = 0; i < 20; i++) {
        echo.ws.send(`n${i}`);
        await echo.next();
      }
      await delay(100);
      expect(lab.lab.registry.size).toBe(1);
      expect(lab.lab.registry.snapshot().connections.map((c) => c.conn)).toEqual([conn]);
      expect(new Set(log.events.map((e) => e.conn))).toEqual(new Set([conn]));
      expect(log.of('frame')).toHaveLength(40);
      expect(log.of('message')).toHaveLength(40);
      // Every observer got every event, once.
      const total = log.events.length;
      for (const observer of observers) {
        await eventually(() => observer.messages.length === total + 1, 'the observer to catch up');
        expect(observer.messages).toHaveLength(total + 1);
      }
      await Promise.all([...observers, echo].map((c) => c.close()));
    } finally {
      log.dispose();
      await lab.close();
    }
  });

  it.each([
    ['an unmasked frame', clientFrame(OP.text, 'hi', { mask: false })],
    ['a frame with RSV1', clientFrame(OP.text, 'hi', { rsv1: true })],
    ['a reserved opcode', clientFrame(0x3, 'hi')],
  ])('closes an observer that sends %s with 1002, and the server survives', async (_, bytes) => {
    const crashes = new CrashWatch();
    try {
      const observer = await RawClient.connect(t.port);
      expect((await observer.upgrade({ host: t.host, path: '/observe' })).status).toBe(101);
      observer.write(bytes);
      await delay(50);
      expect(crashes.messages).toEqual([]);
      const close = await observer.frame((f) => f.opcode === OP.close, 'a close frame');
      expect(closeOf(close).code).toBe(1002);
      observer.destroy();
      await expectStillEchoes(t.ws);
    } finally {
      crashes.stop();
    }
  });

  it('stops listening to the registry once the observer leaves', async () => {
    const lab = await startTestLab();
    try {
      expect(lab.lab.registry.listened).toBe(false);
      const observer = await WsClient.open(`${lab.ws}/observe`);
      await eventually(() => lab.lab.registry.listened, 'the observer to subscribe');
      await observer.close();
      await eventually(() => !lab.lab.registry.listened, 'the observer to unsubscribe');
    } finally {
      await lab.close();
    }
  });
});

describe('an observer that never reads costs bounded memory', () => {
  it('drops and counts its events past observerBudgetBytes, then says how many it missed', async () => {
    const budget = 64 * 1024;
    const lab = await startTestLab({ limits: { observerBudgetBytes: budget } });
    let emittedBytes = 0;
    const stopCounting = lab.lab.registry.subscribe((event) => {
      emittedBytes += JSON.stringify(event).length;
    });
    try {
      // A raw client does the handshake and then stops reading: the kernel buffers fill, then
      // the server's.
      const observer = await RawClient.connect(lab.port);
      expect((await observer.upgrade({ host: lab.host, path: '/observe' })).status).toBe(101);
      observer.socket.pause();
      const echo = await WsClient.open(`${lab.ws}/echo`);
      const before = liveHeap();
      const payload = 'x'.repeat(128);
      for (let batch = 0; batch < 70; batch++) {
        for (let i = 0; i < 100; i++) echo.ws.send(payload);
        for (let i = 0; i < 100; i++) await echo.next();
      }
      const grown = liveHeap() - before;
      // Far more was emitted than the budget and the kernel's buffers could hold...
      expect(emittedBytes).toBeGreaterThan(10 * 1024 * 1024);
      // ...but the server kept only about its budget of it.
      expect(grown).toBeLessThan(8 * 1024 * 1024);

      observer.socket.resume();
      await delay(200);
      // The marker goes out with the next event the observer can take.
      echo.ws.send('after the drop');
      await echo.next();
      await observer.until(
        () =>
          observer.received.includes('"type":"dropped"') &&
          observer.received.includes('after the drop'),
        'the dropped marker and the next event',
        5000,
      );
      const head = observer.received.indexOf('\r\n\r\n') + 4;
      const { frames } = parseWireFrames(observer.received.subarray(head));
      const events = frames
        .filter((f) => f.opcode === OP.text)
        .slice(1)
        .map((f) => JSON.parse(f.payload.toString()) as LabEvent);
      const markerAt = events.findIndex((e) => e.type === 'dropped');
      const marker = events[markerAt];
      expect(marker?.type === 'dropped' && marker.count).toBeGreaterThan(0);
      // The count is exactly the gap in seq it explains.
      const last = events[markerAt - 1] as LabEvent;
      const next = events[markerAt + 1] as LabEvent;
      expect(marker?.type === 'dropped' && marker.count).toBe(next.seq - last.seq - 1);
      await echo.close();
      observer.destroy();
    } finally {
      stopCounting();
      await lab.close();
    }
  }, 20_000);
});
