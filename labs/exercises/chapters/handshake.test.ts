import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../../lab-server/test-support/events.ts';
import { startTestLab, type TestLab } from '../../../lab-server/test-support/lab.ts';
import { RawClient, upgradeRequest } from '../../../lab-server/test-support/raw-client.ts';
import type { LabEvent } from '../../../protocol/annotations.ts';
import { exerciseById, exercisesOf } from '../registry.ts';
import { createRng } from '../rng.ts';
import type {
  ChoiceExercise,
  LiveExercise,
  OrderingExercise,
  ShortAnswerExercise,
} from '../types.ts';
import {
  answerTo,
  handshakeByHand,
  handshakeOrder,
  handshakeRefusedVersion,
  handshakeRequiredHeaders,
  handshakeSamePort,
  handshakeStatus,
  type LiveParams,
  type OrderParams,
  type PortParams,
  type RequiredParams,
  type StatusParams,
  statusOf,
} from './handshake.ts';

const SEEDS = Array.from({ length: 300 }, (_, i) => i * 7919 + 1);

const status = handshakeStatus as ChoiceExercise<StatusParams>;
const required = handshakeRequiredHeaders as ChoiceExercise<RequiredParams>;
const samePort = handshakeSamePort as ShortAnswerExercise<PortParams>;
const order = handshakeOrder as OrderingExercise<OrderParams>;
const byHand = handshakeByHand as LiveExercise<LiveParams>;
const refused = handshakeRefusedVersion as LiveExercise<LiveParams>;

describe('chapter 3 exercises are registered', () => {
  it('has at least 4 exercises, one of them live, each found by its id', () => {
    const all = exercisesOf('handshake');
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.some((e) => e.kind === 'live')).toBe(true);
    for (const e of all) expect(exerciseById(e.id)).toBe(e);
  });

  it('draws the same parameters from the same seed, and different ones across seeds', () => {
    for (const e of exercisesOf('handshake')) {
      expect(e.generate(createRng(42))).toEqual(e.generate(createRng(42)));
      const drawn = new Set(
        SEEDS.slice(0, 50).map((s) => JSON.stringify(e.generate(createRng(s)))),
      );
      expect(drawn.size, e.id).toBeGreaterThan(10);
    }
  });

  it('every exercise has a prompt, at least two hints and a reveal for every seed', () => {
    for (const e of exercisesOf('handshake')) {
      for (const seed of SEEDS.slice(0, 40)) {
        const p = e.generate(createRng(seed));
        expect(e.prompt(p).text.length).toBeGreaterThan(20);
        expect(e.hints(p).length).toBeGreaterThanOrEqual(2);
        expect(e.reveal(p).length).toBeGreaterThan(5);
      }
    }
  });
});

describe('handshake-status: the status a server answers (RFC 6455 §4.2.1, §4.2.2)', () => {
  it('the synchronous status agrees with buildServerResponse for every seed', async () => {
    for (const seed of SEEDS) {
      const p = status.generate(createRng(seed));
      expect(statusOf(p.request).status).toBe((await answerTo(p.request)).status);
    }
  });

  it('accepts the right status and rejects every other, for every seed', async () => {
    const seen = new Set<number>();
    for (const seed of SEEDS) {
      const p = status.generate(createRng(seed));
      const { status: answer } = statusOf(p.request);
      seen.add(answer);
      expect((await status.check(p, [String(answer)])).correct).toBe(true);
      for (const choice of status.choices(p)) {
        if (choice.id === String(answer)) continue;
        const verdict = await status.check(p, [choice.id]);
        expect(verdict.correct).toBe(false);
        expect(verdict.feedback.length).toBeGreaterThan(20);
      }
    }
    expect([...seen].sort()).toEqual([101, 400, 426]);
  });

  it('a wrong version earns 426, and 400 for it says the request is well-formed', async () => {
    const p = SEEDS.map((s) => status.generate(createRng(s))).find((x) => x.defect === 'version');
    if (p === undefined) throw new Error('no seed drew a wrong version');
    expect(statusOf(p.request).status).toBe(426);
    expect((await status.check(p, ['400'])).feedback).toMatch(/well-formed.*§4\.2\.2/);
    expect((await status.check(p, ['101'])).feedback).toMatch(/Look at the Sec-WebSocket-Version/);
  });

  it('a short key earns 400, and 426 for it points at the key, not the version', async () => {
    const p = SEEDS.map((s) => status.generate(createRng(s))).find((x) => x.defect === 'short-key');
    if (p === undefined) throw new Error('no seed drew a short key');
    expect(statusOf(p.request).status).toBe(400);
    expect((await status.check(p, ['426'])).feedback).toMatch(
      /asks for version 13.*Look at the Sec-WebSocket-Key/,
    );
  });

  it('a valid request earns 101, and 400 for it says nothing is malformed', async () => {
    const p = SEEDS.map((s) => status.generate(createRng(s))).find((x) => x.defect === 'none');
    if (p === undefined) throw new Error('no seed drew a valid request');
    expect((await status.check(p, ['400'])).feedback).toMatch(
      /Every rule of RFC 6455 §4\.2\.1 holds/,
    );
    expect((await status.check(p, ['403'])).feedback).toMatch(/Origin/);
    expect((await status.check(p, ['404'])).feedback).toMatch(/serves \/chat/);
    expect((await status.check(p, [])).feedback).toBe('Choose exactly one status.');
  });
});

describe('handshake-required-headers: what every client must send (RFC 6455 §4.1)', () => {
  const REQUIRED = ['Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version'];

  it('accepts exactly the required headers shown, for every seed', () => {
    for (const seed of SEEDS) {
      const p = required.generate(createRng(seed));
      const answer = p.headers.filter((h) => REQUIRED.includes(h));
      expect(answer.length).toBeGreaterThanOrEqual(3);
      expect(required.check(p, answer)).toEqual({ correct: true, feedback: '' });
      expect(required.check(p, p.headers)).toMatchObject({ correct: false });
    }
  });

  it('says Sec-WebSocket-Accept belongs to the response, and explains a missed header', () => {
    const p: RequiredParams = {
      headers: ['Host', 'Sec-WebSocket-Accept', 'Sec-WebSocket-Key', 'Upgrade', 'Origin'],
    };
    const verdict = required.check(p, ['Host', 'Upgrade', 'Sec-WebSocket-Accept']);
    expect(verdict).toMatchObject({
      correct: false,
      wrong: ['Sec-WebSocket-Accept', 'Sec-WebSocket-Key'],
    });
    expect('feedback' in verdict && verdict.feedback).toMatch(
      /Sec-WebSocket-Accept belongs to the server’s 101 response.*You left out Sec-WebSocket-Key, which every handshake needs: A fresh nonce/,
    );
    expect(required.check(p, ['Host', 'Upgrade', 'Sec-WebSocket-Key', 'Origin'])).toMatchObject({
      correct: false,
      feedback: expect.stringContaining('Origin is required only of browsers'),
    });
  });
});

describe('handshake-same-port: the WebSocket keeps the TCP connection of its request', () => {
  it('accepts the client port in any notation and rejects the others, for every seed', () => {
    for (const seed of SEEDS) {
      const p = samePort.generate(createRng(seed));
      expect(p.port).not.toBe(p.otherPort);
      expect(samePort.prompt(p).code).toContain(`127.0.0.1:${p.port} →`);
      expect(samePort.check(p, String(p.port))).toEqual({ correct: true, feedback: '' });
      expect(samePort.check(p, ` 0x${p.port.toString(16)} `)).toMatchObject({ correct: true });
      expect(samePort.check(p, String(p.serverPort))).toMatchObject({
        correct: false,
        feedback: expect.stringContaining("the server's port"),
      });
      expect(samePort.check(p, String(p.otherPort))).toMatchObject({
        correct: false,
        feedback: expect.stringContaining(`connection #${p.otherConn}`),
      });
    }
  });

  it('says a 101 opens no new connection for a port that is nowhere, and reads garbage kindly', () => {
    const p = samePort.generate(createRng(1));
    expect(samePort.check(p, '1')).toMatchObject({
      correct: false,
      feedback: expect.stringContaining('A 101 does not make a new TCP connection'),
    });
    expect(samePort.check(p, 'port?')).toMatchObject({
      correct: false,
      feedback: '"port?" is not a whole number.',
    });
  });
});

describe('handshake-order: one connection from TCP connect to FIN', () => {
  const RIGHT = ['tcp', 'request', 'response', 'client-frame', 'server-frame', 'close', 'fin'];

  it('never starts in the right order, and accepts the right order, for every seed', async () => {
    for (const seed of SEEDS) {
      const p = order.generate(createRng(seed));
      expect(order.items(p).map((i) => i.id)).not.toEqual(RIGHT);
      expect(order.check(p, RIGHT)).toEqual({ correct: true, feedback: '' });
      expect((await order.check(p, p.order)).correct).toBe(false);
    }
  });

  it('a frame before the 101 is told that a client must wait for it (RFC 6455 §4.1)', async () => {
    const p = order.generate(createRng(3));
    const verdict = await order.check(p, [
      'tcp',
      'request',
      'client-frame',
      'response',
      'server-frame',
      'close',
      'fin',
    ]);
    expect(verdict).toMatchObject({ correct: false, wrong: ['client-frame', 'response'] });
    expect(verdict.feedback).toMatch(/masked text frame” comes too early.*101.*RFC 6455 §4\.1/);
  });

  it('FIN before the close frames is told the server closes TCP after them (RFC 6455 §7.1.1)', async () => {
    const p = order.generate(createRng(3));
    const verdict = await order.check(p, [
      'tcp',
      'request',
      'response',
      'client-frame',
      'server-frame',
      'fin',
      'close',
    ]);
    expect(verdict.feedback).toMatch(/TCP FIN.*comes too early.*§7\.1\.1/);
    expect(order.check(p, ['tcp'])).toMatchObject({ feedback: 'Order all 7 steps, each once.' });
  });
});

describe('live exercises, checked from events a real lab server recorded', () => {
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

  /** Sends a request on a fresh TCP connection and returns the events of that connection. */
  async function exchange(request: string): Promise<LabEvent[]> {
    const client = await RawClient.connect(t.port);
    // The lab server annotates a connection once its first request shows it is one to watch.
    client.write(request);
    const conn = await log.connOf(client.localPort);
    await log.waitFor('handshake-response', (e) => e.conn === conn);
    client.destroy();
    await log.waitFor('socket-closed', (e) => e.conn === conn);
    return log.forConn(conn);
  }

  const tagOf = (exercise: LiveExercise<LiveParams>, seed: number) =>
    exercise.generate(createRng(seed));

  it('handshake-by-hand: null before any attempt, correct after a 101 to /echo?by-hand=TAG', async () => {
    const p = tagOf(byHand, 5);
    expect(p.tag).toMatch(/^[0-9a-f]{6}$/);
    expect(byHand.check(p, [])).toBeNull();
    const other = await exchange(upgradeRequest({ host: t.host, path: '/echo?by-hand=000000' }));
    expect(byHand.check(p, other)).toBeNull();
    const events = await exchange(upgradeRequest({ host: t.host, path: `/echo?by-hand=${p.tag}` }));
    expect(byHand.check(p, [...other, ...events])).toEqual({ correct: true, feedback: '' });
  });

  it('handshake-by-hand: a short key is told what the server found wrong', async () => {
    const p = tagOf(byHand, 6);
    const events = await exchange(
      upgradeRequest({ host: t.host, path: `/echo?by-hand=${p.tag}`, key: 'c2hvcnQ=' }),
    );
    const verdict = await byHand.check(p, events);
    expect(verdict).toMatchObject({ correct: false });
    expect(verdict?.feedback).toMatch(
      /^The server answered 400 Bad Request: The Sec-WebSocket-Key 'c2hvcnQ=' decodes to 5 bytes/,
    );
  });

  it('handshake-by-hand: a wrong path gets 404 and is told to use /echo', async () => {
    const p = tagOf(byHand, 7);
    const events = await exchange(upgradeRequest({ host: t.host, path: `/chat?by-hand=${p.tag}` }));
    expect((await byHand.check(p, events))?.feedback).toMatch(
      /404 Not Found.*\/chat.*Use the path \/echo/,
    );
  });

  it('handshake-by-hand: the last attempt counts, a later 101 after a 400', async () => {
    const p = tagOf(byHand, 8);
    const bad = await exchange(
      upgradeRequest({ host: t.host, path: `/echo?by-hand=${p.tag}`, method: 'POST' }),
    );
    expect((await byHand.check(p, bad))?.correct).toBe(false);
    const good = await exchange(upgradeRequest({ host: t.host, path: `/echo?by-hand=${p.tag}` }));
    expect((await byHand.check(p, [...bad, ...good]))?.correct).toBe(true);
  });

  it('handshake-refused-version: Sec-WebSocket-Version 8 alone earns 426 and is correct', async () => {
    const p = tagOf(refused, 9);
    const events = await exchange(
      upgradeRequest({ host: t.host, path: `/echo?refuse=${p.tag}`, version: '8' }),
    );
    expect(events.find((e) => e.type === 'handshake-response')).toMatchObject({ status: 426 });
    expect(refused.check(p, events)).toEqual({ correct: true, feedback: '' });
  });

  it('handshake-refused-version: a 101 is told the version was 13', async () => {
    const p = tagOf(refused, 10);
    const events = await exchange(upgradeRequest({ host: t.host, path: `/echo?refuse=${p.tag}` }));
    expect((await refused.check(p, events))?.feedback).toMatch(
      /accepted that one with 101.*was 13/,
    );
  });

  it('handshake-refused-version: a 426 for a missing Upgrade is not the version’s 426', async () => {
    const p = tagOf(refused, 11);
    const events = await exchange(
      upgradeRequest({ host: t.host, path: `/echo?refuse=${p.tag}`, upgrade: null }),
    );
    expect(events.find((e) => e.type === 'handshake-response')).toMatchObject({ status: 426 });
    expect(refused.check(p, events)).toMatchObject({
      correct: false,
      feedback: expect.stringContaining('no Upgrade header'),
    });
  });

  it('handshake-refused-version: a bad version plus a missing key gets 400 and is told to fix the key', async () => {
    const p = tagOf(refused, 12);
    const events = await exchange(
      upgradeRequest({ host: t.host, path: `/echo?refuse=${p.tag}`, version: '8', key: null }),
    );
    expect(events.find((e) => e.type === 'handshake-response')).toMatchObject({ status: 400 });
    expect((await refused.check(p, events))?.feedback).toMatch(
      /400 Bad Request.*fix Sec-WebSocket-Key/,
    );
  });
});
