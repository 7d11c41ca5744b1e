import { fileURLToPath } from 'node:url';
import { HELP, parseOptions } from './options.ts';
import { startLabServer } from './server.ts';
import { buildSite, siteIsStale } from './site-build.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (options.build && siteIsStale(root)) {
    process.stdout.write('Building the site (dist/ is missing or older than its sources)...\n');
    await buildSite(root);
  }
  let lab: Awaited<ReturnType<typeof startLabServer>>;
  try {
    lab = await startLabServer({ host: options.host, port: options.port, root });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(
        `Port ${options.port} on ${options.host} is already in use, perhaps by another pnpm lab.\n` +
          `Stop the other program, or pick another port: pnpm lab --port ${options.port + 1}\n`,
      );
      return 1;
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      process.stderr.write(
        `This machine has no address ${options.host} to listen on; try --host 127.0.0.1\n`,
      );
      return 1;
    }
    throw error;
  }
  process.stdout.write(`WebSocket Lab is running at ${lab.url}\nPress Ctrl-C to stop.\n`);
  const stop = () => {
    // A second Ctrl-C, or a close that hangs, must not keep the terminal waiting.
    setTimeout(() => process.exit(0), 2000).unref();
    lab.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  },
);
