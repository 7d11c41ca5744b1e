import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMinimalServer } from './check/fixtures/minimal-server.ts';
import type { Report } from './check/run.ts';
import { loopbackTarget } from './check-endpoint.ts';
import { startTestLab, type TestLab } from './test-support/lab.ts';
import { expectStillEchoes, WsClient } from './test-support/ws-client.ts';

let lab: TestLab;
beforeAll(async () => {
  lab = await startTestLab();
});
afterAll(() => lab.close());

async function runUntilReport(client: WsClient, timeoutMs = 20_000) {
  const messages: Record<string, unknown>[] = [];
  for (;;) {
    const message = await client.nextJson(timeoutMs);
    messages.push(message);
    if (message.type === 'report' || message.type === 'refused') return messages;
  }
}

describe('/check runs the checker for the browser page, against loopback only', () => {
  it('streams stage results and the annotated report of a broken server on 127.0.0.1', async () => {
    const server = await startMinimalServer({ ignorePing: true });
    const client = await WsClient.open(`${lab.ws}/check`, { origin: lab.origin });
    try {
      client.ws.send(JSON.stringify({ type: 'run', url: server.url }));
      const messages = await runUntilReport(client);
      expect(messages[0]).toMatchObject({ type: 'started', url: server.url });
      const ends = messages.filter(
        (m) => m.type === 'progress' && (m.event as { type: string }).type === 'stage-end',
      );
      expect(ends.map((m) => (m.event as { stage: { status: string } }).stage.status)).toEqual([
        'pass',
        'pass',
        'pass',
        'pass',
        'fail',
      ]);
      const last = messages[messages.length - 1] as { report: Report; text: string[] };
      expect(last.report.failure).toMatchObject({
        stage: 5,
        check: 'ping-payload',
        rule: 'pong-missing',
      });
      expect(last.text.join('\n')).toContain(
        'No answer to a ping with the payload "are you there?" within 2 s',
      );
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('runs from a later stage when asked, and passes the lab server checking itself', async () => {
    const client = await WsClient.open(`${lab.ws}/check`, { origin: lab.origin });
    try {
      client.ws.send(JSON.stringify({ type: 'run', url: `${lab.ws}/echo`, stage: 8 }));
      const messages = await runUntilReport(client);
      const { report } = messages[messages.length - 1] as { report: Report };
      expect(report.ok).toBe(true);
      expect(report.stages.map((s) => s.status)).toEqual([
        ...Array(7).fill('skipped'),
        'pass',
        'pass',
        'pass',
      ]);
    } finally {
      await client.close();
    }
  });

  for (const url of [
    'ws://10.0.0.1:8080/',
    'ws://example.com/',
    'ws://192.168.1.1/',
    'ws://[fe80::1]/',
    'ws://0.0.0.0:22/',
  ]) {
    it(`refuses the non-loopback target ${url} with an explanation, and connects nowhere`, async () => {
      const client = await WsClient.open(`${lab.ws}/check`, { origin: lab.origin });
      try {
        client.ws.send(JSON.stringify({ type: 'run', url }));
        const message = await client.nextJson();
        expect(message.type).toBe('refused');
        expect(message.reason).toMatch(/only tests servers on this machine/);
        expect(message.reason).toContain('pnpm lab check');
      } finally {
        await client.close();
      }
    });
  }

  it('explains a URL that is not a WebSocket URL, and garbage requests', async () => {
    const client = await WsClient.open(`${lab.ws}/check`, { origin: lab.origin });
    try {
      client.ws.send(JSON.stringify({ type: 'run', url: 'http://127.0.0.1:8080/' }));
      expect((await client.nextJson()).reason).toMatch(/Use ws:\/\/127\.0\.0\.1:8080\/ instead/);
      client.ws.send('{not json');
      expect(await client.nextJson()).toMatchObject({ type: 'refused' });
      client.ws.send(Buffer.from([1, 2, 3]));
      expect(await client.nextJson()).toMatchObject({ type: 'refused' });
    } finally {
      await client.close();
    }
    await expectStillEchoes(lab.ws);
  });

  it('refuses a foreign Origin with 403 before upgrading (RFC 6455 §10.2)', async () => {
    for (const origin of ['http://evil.example', 'null', 'http://localhost.evil.example']) {
      const client = new WsClient(`${lab.ws}/check`, { origin });
      await expect(client.opened).rejects.toThrow(/unexpected response 403/);
    }
  });

  it('lets only loopback names through', () => {
    for (const url of [
      'ws://127.0.0.1:1/',
      'ws://localhost:8080/x',
      'wss://[::1]:8443/',
      'ws://127.1.2.3/',
    ]) {
      expect(loopbackTarget(url)).toHaveProperty('target');
    }
    for (const url of [
      'ws://127.0.0.1.evil.example/',
      'ws://localhost.evil.example/',
      'ws://2130706433.example/',
      42,
      null,
    ]) {
      expect(loopbackTarget(url)).toHaveProperty('reason');
    }
  });
});
