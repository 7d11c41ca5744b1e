import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LabServer, type LabServerOptions, startLabServer } from '../server.ts';

export interface TestLab {
  readonly lab: LabServer;
  readonly port: number;
  /** `127.0.0.1:PORT`, the Host a well-behaved client sends. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`, the lab's own origin. */
  readonly origin: string;
  /** `ws://127.0.0.1:PORT`. */
  readonly ws: string;
  close(): Promise<void>;
}

/** A lab server on an ephemeral loopback port, serving a two-page site from a temporary root. */
export async function startTestLab(
  options: Partial<Omit<LabServerOptions, 'root' | 'host' | 'port'>> = {},
): Promise<TestLab> {
  const root = mkdtempSync(join(tmpdir(), 'wslab-test-'));
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist', 'index.html'), '<h1>home</h1>');
  writeFileSync(join(root, 'dist', '404.html'), '<h1>not here</h1>');
  const lab = await startLabServer({ host: '127.0.0.1', port: 0, root, ...options });
  const host = `127.0.0.1:${lab.port}`;
  return {
    lab,
    port: lab.port,
    host,
    origin: `http://${host}`,
    ws: `ws://${host}`,
    close: async () => {
      await lab.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true, or fails with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean,
  what: string,
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}
