/**
 * Close status codes: RFC 6455 §7.4.1 defines 1000-1011 and §7.4.2 the ranges; 1012-1014 were
 * added later to the IANA "WebSocket Close Code Number Registry" that §11.7 created.
 */

export type CloseCodeSender = 'either' | 'server' | 'client' | 'nobody';

export interface CloseCodeInfo {
  readonly code: number;
  readonly name: string;
  readonly meaning: string;
  /** Who may send it in a close frame. `nobody`: a code that must never appear on the wire. */
  readonly sentBy: CloseCodeSender;
  /** Whether it may appear in a close frame at all. */
  readonly onWire: boolean;
  readonly section: string;
}

const code = (
  code: number,
  name: string,
  sentBy: CloseCodeSender,
  section: string,
  meaning: string,
): CloseCodeInfo => ({ code, name, meaning, sentBy, onWire: sentBy !== 'nobody', section });

export const closeCodes: readonly CloseCodeInfo[] = [
  code(
    1000,
    'Normal Closure',
    'either',
    'RFC 6455 §7.4.1',
    'The purpose of the connection is fulfilled.',
  ),
  code(
    1001,
    'Going Away',
    'either',
    'RFC 6455 §7.4.1',
    'The endpoint is leaving: a server shutting down, or a browser navigating away from the page.',
  ),
  code(
    1002,
    'Protocol Error',
    'either',
    'RFC 6455 §7.4.1',
    'The peer broke a rule of the protocol, such as an unmasked client frame or a reserved opcode.',
  ),
  code(
    1003,
    'Unsupported Data',
    'either',
    'RFC 6455 §7.4.1',
    'The endpoint cannot accept this type of data, for example binary when it only understands text.',
  ),
  code(
    1004,
    'Reserved',
    'nobody',
    'RFC 6455 §7.4.1',
    'Reserved; no meaning has been assigned, so it must not be sent.',
  ),
  code(
    1005,
    'No Status Received',
    'nobody',
    'RFC 6455 §7.4.1',
    'Not a code on the wire: APIs report it when a close frame arrived without a status code.',
  ),
  code(
    1006,
    'Abnormal Closure',
    'nobody',
    'RFC 6455 §7.4.1',
    'Not a code on the wire: APIs report it when the connection dropped without any close frame.',
  ),
  code(
    1007,
    'Invalid Frame Payload Data',
    'either',
    'RFC 6455 §7.4.1',
    'The data in a message did not match its type, typically a text message that is not valid UTF-8 (RFC 6455 §8.1).',
  ),
  code(
    1008,
    'Policy Violation',
    'either',
    'RFC 6455 §7.4.1',
    'A message broke the endpoint\u2019s policy; the generic code when no more specific one fits.',
  ),
  code(
    1009,
    'Message Too Big',
    'either',
    'RFC 6455 §7.4.1',
    'A message was larger than the endpoint is willing to process.',
  ),
  code(
    1010,
    'Mandatory Extension',
    'client',
    'RFC 6455 §7.4.1',
    'The client expected the server to negotiate an extension it did not; the reason lists the extensions needed.',
  ),
  code(
    1011,
    'Internal Error',
    'either',
    'RFC 6455 §7.4.1',
    'An unexpected condition stopped the endpoint from fulfilling the request. RFC 6455 words it for servers; in practice both sides use it.',
  ),
  code(
    1012,
    'Service Restart',
    'server',
    'IANA WebSocket Close Code Number Registry',
    'The service is restarting; a client may reconnect, after a randomised delay.',
  ),
  code(
    1013,
    'Try Again Later',
    'server',
    'IANA WebSocket Close Code Number Registry',
    'The server is overloaded; the client should reconnect to another address or later.',
  ),
  code(
    1014,
    'Bad Gateway',
    'server',
    'IANA WebSocket Close Code Number Registry',
    'A gateway or proxy received an invalid response from the server behind it.',
  ),
  code(
    1015,
    'TLS Handshake',
    'nobody',
    'RFC 6455 §7.4.1',
    'Not a code on the wire: APIs report it when the TLS handshake failed, for example an unverifiable certificate.',
  ),
];

const byCode = new Map(closeCodes.map((info) => [info.code, info]));

export interface CloseCodeVerdict {
  /** Whether a close frame may carry this code (an endpoint receiving an invalid one fails with 1002). */
  readonly valid: boolean;
  readonly info: CloseCodeInfo | undefined;
  readonly explanation: string;
  readonly section: string;
}

/** What a status code found in a close frame means, and whether it may be there (RFC 6455 §7.4). */
export function describeCloseCode(status: number): CloseCodeVerdict {
  const info = byCode.get(status);
  if (info !== undefined) {
    return {
      valid: info.onWire,
      info,
      section: info.section,
      explanation: info.onWire
        ? `${status} ${info.name}: ${info.meaning}`
        : `${status} ${info.name} must never be sent in a close frame. ${info.meaning}`,
    };
  }
  const range = (valid: boolean, section: string, explanation: string): CloseCodeVerdict => ({
    valid,
    info: undefined,
    section,
    explanation: `${status}: ${explanation}`,
  });
  if (status < 1000) return range(false, 'RFC 6455 §7.4.2', 'codes below 1000 are not used.');
  if (status < 3000) {
    return range(
      false,
      'RFC 6455 §7.4.2',
      'codes 1000-2999 are reserved for the protocol and its extensions, and this one is not assigned.',
    );
  }
  if (status < 4000) {
    return range(
      true,
      'RFC 6455 §7.4.2',
      'codes 3000-3999 are registered with IANA by libraries, frameworks and applications.',
    );
  }
  if (status < 5000) {
    return range(
      true,
      'RFC 6455 §7.4.2',
      'codes 4000-4999 are for private use, by agreement between the two applications.',
    );
  }
  return range(false, 'RFC 6455 §7.4.2', 'codes above 4999 are not defined.');
}
