import { fileURLToPath } from 'node:url';
import { checkCommand } from './check/cli.ts';
import { Classroom } from './classroom/classroom.ts';
import { defaultDataFolder } from './classroom/folder.ts';
import { DEFAULT_PORT, HELP, type LabOptions, parseOptions } from './options.ts';
import { type LabServer, startLabServer } from './server.ts';
import { buildSite, siteIsStale } from './site-build.ts';
import { attachTerminal, wantsColor } from './terminal.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Ctrl-C must give the terminal back within this long, whatever still hangs. */
const STOP_DEADLINE_MS = 2000;

/** Addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

async function main(): Promise<number> {
  if (process.argv[2] === 'check') return checkCommand(process.argv.slice(3), process);
  let options: LabOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\nRun pnpm lab --help to see every option.\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // With --json, stdout carries only events; what people read goes to stderr.
  const say = options.output === 'json' ? process.stderr : process.stdout;

  if (options.build && siteIsStale(root)) {
    say.write('Building the site (dist/ is missing or older than its sources)...\n');
    await buildSite(root);
  }
  let classroom: Classroom | null = null;
  if (options.classroom !== null) {
    try {
      classroom = await Classroom.open({
        data: options.classroom.data ?? defaultDataFolder(),
        newClass: options.classroom.newClass,
        ...(options.classroom.className === null ? {} : { name: options.classroom.className }),
        ...(options.classroom.maxStudents === null
          ? {}
          : { limits: { maxStudents: options.classroom.maxStudents } }),
        say: (line) => say.write(`${line}\n`),
      });
    } catch (error) {
      process.stderr.write(`Could not open the class: ${(error as Error).message}\n`);
      return 1;
    }
  }
  let lab: LabServer;
  try {
    lab = await startLabServer({
      host: options.host,
      port: options.port,
      root,
      deflate: options.deflate,
      origins: options.origins,
      limits: options.limits,
      ...(classroom === null ? {} : { endpoints: classroom.endpoints }),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(
        `Port ${options.port} on ${options.host} is already in use, perhaps by another pnpm lab.\n` +
          `Stop the other program, or pick another port: pnpm lab --port ${options.port + 1}\n`,
      );
      return 1;
    }
    if (code === 'EACCES') {
      process.stderr.write(
        `This user may not listen on port ${options.port} (ports below 1024 usually need administrator rights); pick another: pnpm lab --port ${DEFAULT_PORT}\n`,
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

  const terminal = attachTerminal(lab.registry, process.stdout, {
    mode: options.output,
    color: wantsColor(process.stdout, process.env, options.color),
  });
  const echo = new URL('/echo', lab.url);
  echo.protocol = 'ws:';
  say.write(`WebSocket Lab is running at ${lab.url}\nEcho endpoint: ${echo}\n`);
  if (classroom !== null) {
    await classroom.attach(lab.context, options.host);
    say.write(await classroom.banner(wantsColor(say, process.env, options.color)));
  }
  if (!isLoopback(options.host)) {
    process.stderr.write(
      `Warning: listening on ${options.host}, so the lab is reachable from the network: anyone who can reach port ${lab.port} on this machine can use it. Do this only on a network you trust.\n`,
    );
  }
  say.write('Press Ctrl-C to stop.\n');

  let stopping = false;
  const stop = () => {
    // A second Ctrl-C means now.
    if (stopping) process.exit(130);
    stopping = true;
    say.write('\nStopping: every open WebSocket gets a close frame with 1001 (Going Away).\n');
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
    lab
      .close()
      .then(() => classroom?.close())
      .then(() => {
        terminal.dispose();
        // Let the last annotations reach a pipe before exiting; the deadline still holds.
        if (process.stdout.writableLength === 0) process.exit(0);
        process.stdout.once('drain', () => process.exit(0));
      })
      .catch((error: Error) => {
        process.stderr.write(`Could not stop cleanly: ${error.message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
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
