/**
 * Starts the real lab server (what `pnpm lab` runs) on 127.0.0.1 with an ephemeral port, serving
 * the built site, for the browser tests.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLabServer } from '../lab-server/server.ts';

export interface StaticServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

const root = fileURLToPath(new URL('..', import.meta.url));

export async function serveDist(): Promise<StaticServer> {
  if (!existsSync(join(root, 'dist', 'index.html'))) {
    throw new Error('dist/ has no index.html: build the site first with `pnpm build`.');
  }
  const lab = await startLabServer({ host: '127.0.0.1', port: 0, root });
  return { url: lab.url.replace(/\/$/, ''), close: () => lab.close() };
}
