/**
 * Starts the real lab server (what `pnpm lab` runs) on 127.0.0.1 with an ephemeral port, serving
 * the built site, for the browser tests.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { Classroom } from '../lab-server/classroom/classroom.ts';
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
  const lab = await startLabServer({ host: '127.0.0.1', port: 0, root, proxies: 0 });
  return { url: lab.url.replace(/\/$/, ''), close: () => lab.close() };
}

export interface ClassServer extends StaticServer {
  readonly code: string;
  readonly teacherToken: string;
  /** `http://127.0.0.1:PORT/teacher/#token=...`, as `pnpm lab --classroom` prints it. */
  readonly teacherUrl: string;
  /** `http://127.0.0.1:PORT/classroom/#code=...`, the QR code's link. */
  readonly studentUrl: string;
}

/**
 * The real lab server in classroom mode (what `pnpm lab --classroom` runs), with its class in a
 * temporary data folder that `close` removes.
 */
export async function serveClass(name = 'Browser test class'): Promise<ClassServer> {
  if (!existsSync(join(root, 'dist', 'index.html'))) {
    throw new Error('dist/ has no index.html: build the site first with `pnpm build`.');
  }
  const data = mkdtempSync(join(tmpdir(), 'wslab-e2e-class-'));
  const classroom = await Classroom.open({ data, newClass: false, name });
  const lab = await startLabServer({
    host: '127.0.0.1',
    port: 0,
    root,
    endpoints: classroom.endpoints,
  });
  await classroom.attach(lab.context, '127.0.0.1');
  return {
    url: lab.url.replace(/\/$/, ''),
    code: classroom.file.code,
    teacherToken: classroom.file.teacherToken,
    teacherUrl: classroom.urls.teacher,
    studentUrl: classroom.urls.studentWithCode,
    close: async () => {
      await lab.close();
      await classroom.close();
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/**
 * The built site on a plain static server, without the lab server: no /echo, no /observe, no
 * /raw. For the tests of what each lab says when the lab server is not running.
 */
export async function serveSiteOnly(): Promise<StaticServer> {
  const server = createServer(sirv(join(root, 'dist'), { dev: false }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
