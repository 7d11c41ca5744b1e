import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { staticSite } from './static.ts';

export interface LabServerOptions {
  readonly host: string;
  readonly port: number;
  /** The project's root: the site is served from its dist/ folder. */
  readonly root: string;
}

export interface LabServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts the lab server: one process, one port (RFC 6455 §1.7 lets HTTP and WebSocket share it). */
export async function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const site = staticSite(join(options.root, 'dist'));
  const server = createServer((req, res) => site(req, res));
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
