/**
 * The Sec-WebSocket-Accept calculator: type or paste a key, or take the key this browser sent on
 * a real connection to the lab server, and see every step of RFC 6455 §4.2.2 (item 5.4): the key
 * followed by the GUID, the bytes SHA-1 reads, the digest, and its base64. The hashing is
 * protocol/accept.ts, the very code the lab server uses.
 */
import { computeAccept, generateKey } from '../../protocol/accept.ts';
import { LiveCollector, readObserveMessage } from '../exercises/live.ts';
import { h } from '../shared/dom.ts';
import {
  connectLabServer,
  renderUnavailable,
  unavailableMessage,
  webSocketUrl,
} from '../shared/lab-server.ts';
import {
  analyseKey,
  concatenationBytes,
  findOwnHandshake,
  GUID,
  hexPairs,
  keyByteLength,
  type OwnHandshake,
  RFC_EXAMPLE_ACCEPT,
  RFC_EXAMPLE_KEY,
} from './model.ts';

export interface MountOptions {
  readonly initialKey?: string;
  readonly headingLevel?: 2 | 3 | 4;
}

export interface Mounted {
  dispose(): void;
}

let counter = 0;

export function mount(element: HTMLElement, options: MountOptions = {}): Mounted {
  const uid = `acc${++counter}`;
  const level = options.headingLevel ?? 3;
  const heading = (text: string) => h(`h${level}`, { class: 'acc-heading' }, text);
  const inputId = `${uid}-key`;
  const input = h('input', {
    id: inputId,
    class: 'acc-input',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    'aria-describedby': `${uid}-validity`,
  });
  input.value = options.initialKey ?? RFC_EXAMPLE_KEY;

  const example = h('button', { type: 'button', class: 'lab-chip' }, 'RFC 6455 example');
  const random = h('button', { type: 'button', class: 'lab-chip' }, 'New random key');
  const own = h('button', { type: 'button', class: 'lab-chip acc-own' }, "My connection's key");
  const source = h('div', { class: 'acc-source', role: 'status', 'aria-live': 'polite' });
  const validity = h('div', { class: 'acc-validity', id: `${uid}-validity` });
  const steps = h('ol', { class: 'acc-steps' });
  const result = h('div', { class: 'acc-result', 'aria-live': 'polite', 'aria-atomic': 'true' });

  let run = 0;
  let ownHandshake: OwnHandshake | null = null;
  let abort: AbortController | null = null;

  const render = async () => {
    const current = ++run;
    const analysis = analyseKey(input.value);
    const accept = await computeAccept(analysis.key);
    if (current !== run) return;
    validity.dataset.valid = String(analysis.valid);
    validity.replaceChildren(
      analysis.valid
        ? h(
            'p',
            {},
            h('strong', {}, 'Valid key. '),
            `24 base64 characters that decode to 16 bytes, as RFC 6455 §4.1 item 7 asks.`,
            analysis.trimmed
              ? ' (Spaces around it were dropped, as HTTP drops them from a header value.)'
              : '',
          )
        : h(
            'div',
            {},
            h(
              'p',
              {},
              h('strong', {}, 'Not a valid key. '),
              'A server must not accept it: it answers 400 Bad Request instead of 101 (RFC 6455 §4.2.1). The steps below show what the hash would be anyway.',
            ),
            h(
              'ul',
              {},
              ...analysis.problems.map((problem) =>
                h(
                  'li',
                  {},
                  problem.text,
                  ' ',
                  h('span', { class: 'acc-section' }, `(${problem.section})`),
                ),
              ),
            ),
          ),
    );

    const keyBytes = keyByteLength(accept.key);
    const cells = concatenationBytes(accept.bytes, keyBytes);
    const digest = hexPairs(accept.sha1Hex);
    steps.replaceChildren(
      h(
        'li',
        { class: 'acc-step' },
        heading('1. Append the GUID to the key'),
        h(
          'p',
          { class: 'acc-note' },
          'The key is used as the text it is, never decoded. The GUID is the same for every WebSocket server (RFC 6455 §1.3).',
        ),
        h(
          'p',
          { class: 'acc-mono acc-concat' },
          h('span', { class: 'acc-key', title: 'the key' }, accept.key),
          h('span', { class: 'acc-guid', title: 'the GUID' }, GUID),
        ),
        h(
          'p',
          { class: 'acc-note' },
          `${accept.concatenated.length} characters: ${accept.key.length} of key, ${GUID.length} of GUID.`,
        ),
      ),
      h(
        'li',
        { class: 'acc-step' },
        heading('2. The bytes SHA-1 reads'),
        h(
          'p',
          { class: 'acc-note' },
          `The text as bytes (ASCII; UTF-8 for anything else): ${accept.bytes.length} bytes, ${keyBytes} from the key (underlined) and ${accept.bytes.length - keyBytes} from the GUID.`,
        ),
        h(
          'p',
          { class: 'acc-bytes acc-mono', 'aria-label': `${accept.bytes.length} bytes in hex` },
          ...cells.map((cell) =>
            h('span', { class: `acc-byte acc-${cell.part}`, title: `"${cell.char}"` }, cell.hex),
          ),
        ),
      ),
      h(
        'li',
        { class: 'acc-step' },
        heading('3. SHA-1 of those bytes'),
        h('p', { class: 'acc-note' }, 'SHA-1 always gives 20 bytes (160 bits), here in hex:'),
        h('p', { class: 'acc-mono acc-digest' }, digest.join(' ')),
      ),
      h(
        'li',
        { class: 'acc-step' },
        heading('4. Base64 of the 20 bytes'),
        h(
          'p',
          { class: 'acc-note' },
          'Base64 writes each 3 bytes as 4 characters: 20 bytes make 27 characters of data and one "=" of padding (RFC 4648 §4). Encode the bytes, not the hex text.',
        ),
        h('p', { class: 'acc-mono acc-accept' }, `Sec-WebSocket-Accept: ${accept.accept}`),
      ),
    );

    const notes: (HTMLElement | string)[] = [
      h('span', { class: 'acc-result-label' }, 'Sec-WebSocket-Accept: '),
      h('code', { class: 'acc-result-value' }, accept.accept),
    ];
    if (accept.key === RFC_EXAMPLE_KEY) {
      notes.push(
        h(
          'p',
          { class: 'acc-note' },
          accept.accept === RFC_EXAMPLE_ACCEPT
            ? `The same value RFC 6455 §1.3 gives for its example key.`
            : `RFC 6455 §1.3 gives ${RFC_EXAMPLE_ACCEPT}; something is wrong here.`,
        ),
      );
    }
    if (ownHandshake !== null && ownHandshake.key === accept.key) {
      const sent = ownHandshake.sentAccept;
      notes.push(
        h(
          'p',
          { class: 'acc-note acc-match', 'data-match': String(sent === accept.accept) },
          sent === null
            ? `The lab server answered your connection ${ownHandshake.conn} with status ${ownHandshake.status ?? 'none yet'} and no Sec-WebSocket-Accept.`
            : sent === accept.accept
              ? `The lab server sent exactly this value in its 101 to your connection ${ownHandshake.conn}, and your browser checked it the same way before opening the socket.`
              : `The lab server sent ${sent} to your connection ${ownHandshake.conn}, which differs from this value.`,
        ),
      );
    }
    result.replaceChildren(...notes);
  };

  const setKey = (key: string) => {
    input.value = key;
    void render();
  };

  input.addEventListener('input', () => {
    ownHandshake = null;
    source.replaceChildren();
    void render();
  });
  example.addEventListener('click', () => {
    ownHandshake = null;
    source.replaceChildren();
    setKey(RFC_EXAMPLE_KEY);
  });
  random.addEventListener('click', () => {
    ownHandshake = null;
    source.replaceChildren(
      'A fresh key, made the way a browser makes one: 16 random bytes in base64.',
    );
    setKey(generateKey());
  });
  own.addEventListener('click', () => {
    abort?.abort();
    abort = new AbortController();
    void takeOwnKey(abort.signal);
  });

  /**
   * Opens /observe, then a WebSocket to /echo, and reads this browser's handshake from the lab
   * server's annotations: the key as it crossed the wire and the accept the server answered.
   */
  const takeOwnKey = async (signal: AbortSignal) => {
    own.disabled = true;
    source.replaceChildren('Connecting to the lab server…');
    const observe = await connectLabServer('/observe', { signal });
    if (!observe.ok) {
      own.disabled = false;
      if (signal.aborted) return;
      source.replaceChildren(
        renderUnavailable(
          unavailableMessage(observe.tried, location),
          () => own.click(),
          'acc-missing',
        ),
      );
      return;
    }
    const observer = observe.connection.socket;
    const collector = new LiveCollector({ userAgent: navigator.userAgent });
    let echo: WebSocket | null = null;
    const finish = (message: (string | HTMLElement)[]) => {
      clearTimeout(timer);
      observer.close(1000);
      if (echo !== null && echo.readyState <= WebSocket.OPEN) echo.close(1000, 'key taken');
      own.disabled = false;
      if (!signal.aborted) source.replaceChildren(...message);
    };
    const timer = setTimeout(
      () => finish(['The lab server did not report the handshake within 5 seconds. Try again.']),
      5000,
    );
    signal.addEventListener('abort', () => finish([]));
    observer.addEventListener('message', (message: MessageEvent<unknown>) => {
      if (typeof message.data !== 'string') return;
      const read = readObserveMessage(message.data);
      if (read === null) return;
      if (read.kind === 'snapshot') {
        collector.snapshot(read.snapshot);
        // Only now: a connection opened before the snapshot would be listed in it and ignored.
        echo = new WebSocket(webSocketUrl(observe.connection.origin, '/echo'));
        return;
      }
      if (!collector.add(read.event)) return;
      const found = findOwnHandshake(collector.events);
      if (found === null || found.status === null) return;
      ownHandshake = found;
      input.value = found.key;
      void render();
      finish([
        `Your browser just opened ${webSocketUrl(observe.connection.origin, '/echo')} (connection ${found.conn} on the lab server) and sent this key: `,
        h('code', {}, found.key),
        '. Browsers make a fresh key for every connection, so yours differs each time.',
      ]);
    });
  };

  element.replaceChildren(
    h(
      'div',
      { class: 'acc' },
      h(
        'div',
        { class: 'acc-panel' },
        h('label', { for: inputId, class: 'acc-label' }, 'Sec-WebSocket-Key'),
        input,
        h('div', { class: 'acc-chips' }, example, random, own),
        source,
        validity,
      ),
      steps,
      h('div', { class: 'acc-panel acc-final' }, result),
    ),
  );
  void render();
  return {
    dispose() {
      abort?.abort();
      element.replaceChildren();
    },
  };
}
