/**
 * Every example of the router lab, sent to a real lab server through its real /raw relay and
 * observed through /observe, as the browser does: the verdict names the step of
 * lab-server/server.ts that answered. If the server's routing changes, these fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WEBSOCKET_ROUTES } from '../../lab-server/tap.ts';
import { startTestLab, type TestLab } from '../../lab-server/test-support/lab.ts';
import { generateKey } from '../../protocol/accept.ts';
import type { LabEvent } from '../../protocol/annotations.ts';
import { architectureRoute, type RouteParams } from '../exercises/chapters/architecture.ts';
import { createRng } from '../exercises/rng.ts';
import type { ChoiceExercise } from '../exercises/types.ts';
import {
  buildRequest,
  EXAMPLES,
  judge,
  predict,
  type RequestChoices,
  RouterRun,
  type StepId,
} from './model.ts';

let lab: TestLab;
beforeAll(async () => {
  lab = await startTestLab();
});
afterAll(async () => {
  await lab.close();
});

async function send(choices: RequestChoices) {
  const built = buildRequest(choices, lab.origin, generateKey());
  if (!built.ok) throw new Error(built.problem);
  const run = new RouterRun(built.bytes, () => new Uint8Array([1, 2, 3, 4]));
  const relay = new WebSocket(`${lab.ws}/raw`);
  const sockets: WebSocket[] = [relay];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`run stuck in ${run.phase}`)), 5000);
    const perform = (actions: ReturnType<RouterRun['event']>) => {
      for (const action of actions) {
        if (action.type === 'send') relay.send(action.bytes);
        else if (action.type === 'end') relay.send('end');
        else if (action.type === 'observe') {
          const observer = new WebSocket(`${lab.ws}/observe?id=${action.conn}`);
          sockets.push(observer);
          observer.on('message', (data) => {
            const parsed = JSON.parse(String(data)) as LabEvent | { type: 'snapshot' };
            if (parsed.type === 'snapshot') perform(run.observerReady());
            else perform(run.event(parsed));
          });
        }
      }
      if (run.settled) {
        clearTimeout(timer);
        resolve();
      }
    };
    relay.on('message', (data, isBinary) => {
      if (isBinary) perform(run.relayBytes(new Uint8Array(data as Buffer)));
      else perform(run.relayStatus(String(data)));
    });
    relay.on('close', () => perform(run.relayClosed()));
  });
  await done;
  for (const socket of sockets) socket.close();
  const answer = run.reader.answer;
  if (answer === null) throw new Error(`no answer: ${run.reader.problem}`);
  return { answer, verdict: judge(choices, answer, run.events), events: run.events };
}

const EXPECTED: Readonly<Record<string, { status: number; step: StepId }>> = {
  page: { status: 200, step: 'static' },
  'upgrade-echo': { status: 101, step: 'websocket' },
  'plain-echo': { status: 426, step: 'ws-path' },
  'upgrade-chat': { status: 404, step: 'endpoint' },
  'lab-json': { status: 200, step: 'http-endpoint' },
  'no-page': { status: 404, step: 'static' },
  'foreign-origin': { status: 403, step: 'origin' },
  'foreign-host': { status: 403, step: 'host' },
  'version-8': { status: 426, step: 'rules' },
  'no-connection': { status: 400, step: 'rules' },
};

describe('the router lab against the real lab server, through /raw', () => {
  it('has an expectation for every example', () => {
    expect(EXAMPLES.map((e) => e.id).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const example of EXAMPLES) {
    const expected = EXPECTED[example.id] as { status: number; step: StepId };
    it(`${example.label}: ${expected.status}, answered by "${expected.step}"`, async () => {
      const { answer, verdict } = await send(example.choices);
      expect(answer.head.status).toBe(expected.status);
      expect(verdict.step).toBe(expected.step);
      expect(verdict.explanation.length).toBeGreaterThan(20);
    });
  }

  it('names the endpoint that owns a 101 from the annotation (route echo)', async () => {
    const example = EXAMPLES.find((e) => e.id === 'upgrade-echo') as (typeof EXAMPLES)[number];
    const { verdict, events } = await send(example.choices);
    expect(verdict.route).toBe('echo');
    // The close frame the run sent after the 101 was answered: the endpoint really ran.
    expect(events.some((e) => e.type === 'close-frame' && e.direction === 'server-to-client')).toBe(
      true,
    );
  });

  it('an upgrade to /observe is also answered by ws, and owned by the observe endpoint', async () => {
    const example = EXAMPLES.find((e) => e.id === 'upgrade-echo') as (typeof EXAMPLES)[number];
    const { answer, verdict } = await send({ ...example.choices, path: '/observe' });
    expect(answer.head.status).toBe(101);
    expect(verdict.step).toBe('websocket');
  });
});

describe('predict (the chapter 8 exercise’s answer) agrees with the real lab server', () => {
  const paths = new Set(WEBSOCKET_ROUTES.keys());
  const route = architectureRoute as ChoiceExercise<RouteParams>;

  it('for every example', async () => {
    for (const example of EXAMPLES) {
      const { answer, verdict } = await send(example.choices);
      const predicted = predict(example.choices, paths, lab.origin);
      expect([predicted.status, predicted.step], example.id).toEqual([
        answer.head.status,
        verdict.step,
      ]);
    }
  });

  it('for 40 requests drawn by the exercise', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { choices } = route.generate(createRng(seed * 104729));
      const { answer, verdict } = await send(choices);
      const predicted = predict(choices, paths, lab.origin);
      expect([predicted.status, predicted.step], JSON.stringify(choices)).toEqual([
        answer.head.status,
        verdict.step,
      ]);
    }
  }, 30_000);
});
