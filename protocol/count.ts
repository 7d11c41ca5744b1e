/**
 * What `/count/stats` answers (lab-server/count.ts): the lab server's own count of what one run
 * of the connection-counting lab cost. Shared by the server and the lab's page.
 */
export interface RunStats {
  readonly v: 1;
  readonly run: string;
  /** TCP connections that carried at least one of the run's requests. */
  readonly tcpConnections: number;
  /** Of those, connections whose first request was the run's: opened for it. */
  readonly newTcpConnections: number;
  /** TLS handshakes the run paid for: one per new connection on the TLS port. */
  readonly tlsHandshakes: number;
  /** Of those, handshakes that resumed an earlier session (RFC 8446 §2.2). */
  readonly tlsResumed: number;
  /** HTTP requests: the fetches, and the upgrade request of each WebSocket. */
  readonly httpRequests: number;
  /** Answers that carried `Connection: close`. */
  readonly closeAnswers: number;
  readonly webSocketConnections: number;
  /** WebSocket messages the server received on the run's /echo connections. */
  readonly webSocketMessages: number;
  /** Bytes of HTTP and WebSocket traffic (decrypted on TLS), from the tap's counts. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** True when every request of the run came over TLS. */
  readonly overTls: boolean;
}
