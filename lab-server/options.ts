import { parseArgs } from 'node:util';

/** 6455, after the RFC: easy to remember, and rarely taken by anything else on a laptop. */
export const DEFAULT_PORT = 6455;
export const DEFAULT_HOST = '127.0.0.1';

export interface LabOptions {
  readonly host: string;
  readonly port: number;
  readonly build: boolean;
  readonly help: boolean;
}

export const HELP = `Usage: pnpm lab [options]

Starts the WebSocket Lab server: the tutorial site and its labs, on one port.
It builds the site first when the build is missing or older than its sources.

Options:
  --port <n>   port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <h>   address to listen on (default ${DEFAULT_HOST}, this machine only)
  --no-build   serve dist/ as it is, even when it is out of date
  -h, --help   show this help
`;

/** Parses the command line; throws an Error with a message meant for the user. */
export function parseOptions(argv: readonly string[]): LabOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-build': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a whole number from 0 to 65535, not "${values.port}".`);
  }
  return {
    host: values.host ?? DEFAULT_HOST,
    port,
    build: values['no-build'] !== true,
    help: values.help === true,
  };
}
