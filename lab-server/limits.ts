/**
 * Every limit the lab server enforces, set explicitly rather than left to library defaults that
 * change between versions. Anything that arrives on a socket is hostile until parsed.
 */
export interface Limits {
  /** Largest message on /echo; past it the server closes with 1009 (RFC 6455 §7.4.1). */
  readonly maxPayload: number;
  /** Most frames one message may span; past it 1008 (a flood of tiny fragments). */
  readonly maxFragments: number;
  /** Largest HTTP request head; past it 431 (RFC 6585 §5). */
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  /** Time a client has to send its whole request head; then 408. */
  readonly handshakeTimeoutMs: number;
  /** A silent WebSocket on /echo is closed with 1001 after this long. */
  readonly idleTimeoutMs: number;
  /** Open TCP connections; beyond it new ones get 503. */
  readonly maxConnections: number;
  /** Unsent bytes an /observe client may have waiting before its events are dropped. */
  readonly observerBudgetBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxPayload: 1024 * 1024,
  maxFragments: 1024,
  maxHeaderBytes: 8192,
  maxHeaders: 100,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 10 * 60_000,
  maxConnections: 2048,
  observerBudgetBytes: 1024 * 1024,
};
