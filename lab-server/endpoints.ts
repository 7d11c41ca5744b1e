/**
 * How an endpoint with its own file plugs into the lab server: a WebSocket path or an HTTP path
 * prefix, and the context it may use. `server.ts` routes to them after the checks every request
 * gets (the handshake rules of RFC 6455 §4.2.1, Host, and Origin for browser endpoints), so an
 * endpoint sees only requests that passed them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { Route } from '../protocol/annotations.ts';
import type { RequestHead } from '../protocol/http-head.ts';
import type { LabConnection } from './connection.ts';
import type { Limits } from './limits.ts';
import type { Registry } from './registry.ts';
import type { Trust } from './trust.ts';

/** The lab server's listening ports, known once it listens. `null`: that listener is off. */
export interface LabPorts {
  /** Plain HTTP and ws://: the site and every endpoint. */
  http: number;
  /** HTTPS and wss:// with the lab's self-signed certificate. */
  https: number | null;
}

export interface LabContext {
  readonly registry: Registry;
  readonly trust: Trust;
  readonly limits: Limits;
  /** The address the lab server listens on (`127.0.0.1` unless `--host`). */
  readonly host: string;
  readonly ports: LabPorts;
  /** Classroom mode is on (`pnpm lab --classroom`): `/lab.json` tells the pages. */
  readonly classroom?: boolean;
}

export interface WebSocketRequest {
  /** The request target parsed against the lab's own origin: path and query. */
  readonly url: URL;
  readonly head: RequestHead;
  readonly connection: LabConnection;
}

export interface WebSocketEndpoint {
  /** Exact path, e.g. `/trace`; the query string is the endpoint's own. */
  readonly path: string;
  readonly route: Route;
  /** Largest message accepted (`ws` closes with 1009 beyond it, RFC 6455 §7.4.1). */
  readonly maxPayload: number;
  /**
   * Called once the upgrade completed. `ws` reports a peer's protocol errors as 'error' events;
   * the server already listens for them.
   */
  open(ws: WebSocket, request: WebSocketRequest, context: LabContext): void;
}

export interface HttpEndpoint {
  /** Requests whose path equals it or starts with it plus `/`: `/count` takes `/count/close`. */
  readonly prefix: string;
  /**
   * Answers the request. The server checked Host (DNS rebinding) first. Browser-only HTTP
   * endpoints with side effects must check `Origin` themselves (`context.trust.checkOrigin`).
   */
  handle(req: IncomingMessage, res: ServerResponse, context: LabContext): void;
}

/** Finds the endpoint for a path, if any. */
export function httpEndpointFor(
  endpoints: readonly HttpEndpoint[],
  path: string,
): HttpEndpoint | undefined {
  return endpoints.find((e) => path === e.prefix || path.startsWith(`${e.prefix}/`));
}
