/**
 * The real lab server with every listener the chapter 2 and 9 labs need: plain HTTP/ws://, the
 * TLS listener (wss://) with a fresh self-signed certificate made for the test (never written to
 * the user's config folder), and the loopback proxies, all on ephemeral ports of 127.0.0.1.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCertificate } from '../lab-server/certificate.ts';
import { startLabServer } from '../lab-server/server.ts';

export interface FullLab {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly tlsPort: number;
  close(): Promise<void>;
}

const root = fileURLToPath(new URL('..', import.meta.url));

export async function startFullLab(): Promise<FullLab> {
  if (!existsSync(join(root, 'dist', 'index.html'))) {
    throw new Error('dist/ has no index.html: build the site first with `pnpm build`.');
  }
  const { key, cert } = await makeCertificate(new Date());
  const lab = await startLabServer({
    host: '127.0.0.1',
    port: 0,
    root,
    tls: { port: 0, key, cert },
    proxies: 0,
  });
  if (lab.tlsPort === null) throw new Error('the TLS listener did not start');
  return {
    url: lab.url.replace(/\/$/, ''),
    port: lab.port,
    tlsPort: lab.tlsPort,
    close: () => lab.close(),
  };
}
