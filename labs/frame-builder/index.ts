/**
 * The frame builder lab: choose every header field, type the payload in a CodeMirror editor,
 * see the bytes live, then send them to the lab server and read its reaction. This file is the
 * thin DOM view; the bytes come from model.ts (protocol/frame-encoder), the reaction from
 * send.ts and exchange.ts.
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import type { ProblemView } from '../frame-decoder/model.ts';
import { h, terms } from '../shared/dom.ts';
import { formatHex, parseHex } from '../shared/hex.ts';
import {
  connectLabServer,
  labServerCandidates,
  renderUnavailable,
  unavailableMessage,
} from '../shared/lab-server.ts';
import type { Outcome } from './exchange.ts';
import {
  type BuilderInput,
  type BuildResult,
  build,
  DEFAULT_INPUT,
  type InputName,
  type LengthChoice,
  OPCODE_CHOICES,
  type PayloadFormat,
  randomKeyHex,
} from './model.ts';
import { type Phase, type Sending, type SocketLike, sendFrame } from './send.ts';

export interface FrameBuilderOptions {
  /** Heading level of the lab's parts. */
  readonly headingLevel?: 2 | 3 | 4;
  /** Where to look for the lab server when the page is not served by it. */
  readonly fallbackServer?: string;
}

export interface MountedLab {
  dispose(): void;
}

let instances = 0;

const LENGTH_CHOICES: readonly { value: LengthChoice; label: string }[] = [
  { value: 'minimal', label: 'Shortest that fits (as RFC 6455 §5.2 requires)' },
  { value: '7-bit', label: '7-bit (0-125 in Payload len)' },
  { value: '16-bit', label: '16-bit (126, then 2 bytes)' },
  { value: '64-bit', label: '64-bit (127, then 8 bytes)' },
];

const PHASE_TEXT: Record<Phase, string> = {
  relay: 'Opening the /raw relay to the lab server…',
  handshake: 'Sending a valid upgrade request to /echo through the relay…',
  sent: 'Sent your frame; waiting for the server…',
  closing: 'Ending the connection…',
  done: 'Done.',
};

type HeadingTag = 'h2' | 'h3' | 'h4' | 'h5';
const headingTag = (level: number): HeadingTag =>
  level <= 2 ? 'h2' : level === 3 ? 'h3' : level === 4 ? 'h4' : 'h5';

export function mount(element: HTMLElement, options: FrameBuilderOptions = {}): MountedLab {
  const uid = `fb${++instances}`;
  const part = headingTag(options.headingLevel ?? 3);
  let input: BuilderInput = { ...DEFAULT_INPUT, maskingKey: randomKeyHex() };
  let result: BuildResult = build(input);
  let sending: Sending | null = null;
  let disposed = false;

  // ---- controls ------------------------------------------------------------------------------

  const check = (name: 'fin' | 'rsv1' | 'rsv2' | 'rsv3' | 'mask', label: string, hint: string) => {
    const box = h('input', { type: 'checkbox', id: `${uid}-${name}`, checked: input[name] });
    box.addEventListener('change', () => set({ [name]: box.checked }));
    return {
      box,
      label: h(
        'label',
        { class: 'fb-check', for: `${uid}-${name}` },
        box,
        h('span', {}, h('strong', {}, label), ` ${hint}`),
      ),
    };
  };
  const fin = check('fin', 'FIN', 'last frame of the message');
  const rsv = (['rsv1', 'rsv2', 'rsv3'] as const).map((name, i) =>
    check(name, `RSV${i + 1}`, 'reserved'),
  );
  const mask = check('mask', 'MASK', 'masked with the key below');

  const opcode = h('select', { id: `${uid}-opcode` });
  for (const choice of OPCODE_CHOICES) {
    opcode.append(
      h('option', { value: choice.value, selected: choice.value === input.opcode }, choice.label),
    );
  }
  opcode.addEventListener('change', () => set({ opcode: Number(opcode.value) }));

  const keyInput = h('input', {
    type: 'text',
    id: `${uid}-key`,
    class: 'fb-mono',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': `${uid}-maskingKey-error`,
  });
  keyInput.value = input.maskingKey;
  keyInput.addEventListener('input', () => set({ maskingKey: keyInput.value }));
  const newKey = h('button', { type: 'button', class: 'lab-chip' }, 'New random key');
  newKey.addEventListener('click', () => {
    keyInput.value = randomKeyHex();
    set({ maskingKey: keyInput.value });
  });

  const lengthForm = h('select', {
    id: `${uid}-form`,
    'aria-describedby': `${uid}-lengthForm-error`,
  });
  for (const choice of LENGTH_CHOICES) {
    lengthForm.append(h('option', { value: choice.value }, choice.label));
  }
  lengthForm.addEventListener('change', () =>
    set({ lengthForm: lengthForm.value as LengthChoice }),
  );

  const declared = h('input', {
    type: 'text',
    id: `${uid}-declared`,
    class: 'fb-mono',
    inputmode: 'numeric',
    placeholder: 'the real length',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': `${uid}-declared-hint ${uid}-declaredLength-error`,
  });
  declared.addEventListener('input', () => set({ declaredLength: declared.value }));

  const formats = (['text', 'hex'] as const).map((value) => {
    const radio = h('input', {
      type: 'radio',
      name: `${uid}-format`,
      value,
      checked: value === input.payloadFormat,
    });
    radio.addEventListener('change', () => {
      if (radio.checked) switchFormat(value);
    });
    return h(
      'label',
      { class: 'fb-radio' },
      radio,
      value === 'text' ? ' Text (UTF-8)' : ' Hex bytes',
    );
  });

  const errorSlot = (name: InputName) => h('p', { id: `${uid}-${name}-error`, class: 'fb-error' });
  const errorSlots: Record<InputName, HTMLElement> = {
    maskingKey: errorSlot('maskingKey'),
    payload: errorSlot('payload'),
    declaredLength: errorSlot('declaredLength'),
    lengthForm: errorSlot('lengthForm'),
  };

  const editorHost = h('div', { class: 'fb-editor' });
  const bytesOut = h('div', { class: 'fb-bytes', id: `${uid}-bytes` });
  const receiver = h('div', { class: 'fb-receiver' });
  const xorOut = h('div', { class: 'fb-xor' });
  const sendButton = h('button', { type: 'button', class: 'fb-send' }, 'Send to the lab server');
  const sendStatus = h('p', { class: 'fb-status', role: 'status' });
  const missing = h('div', {});
  const reaction = h('div', { class: 'fb-reaction', 'aria-live': 'polite' });

  const root = h(
    'div',
    { class: 'fb' },
    h(
      'div',
      { class: 'fb-panel' },
      h(part, { class: 'fb-heading' }, 'Header'),
      h(
        'fieldset',
        { class: 'fb-bits' },
        h('legend', {}, 'First byte: FIN, RSV1-3'),
        fin.label,
        ...rsv.map((r) => r.label),
      ),
      h(
        'div',
        { class: 'fb-row' },
        h('label', { for: `${uid}-opcode`, class: 'fb-label' }, 'Opcode'),
        opcode,
      ),
      h('fieldset', { class: 'fb-bits' }, h('legend', {}, 'Second byte: MASK'), mask.label),
      h(
        'div',
        { class: 'fb-row' },
        h('label', { for: `${uid}-key`, class: 'fb-label' }, 'Masking key (4 bytes, hex)'),
        keyInput,
        newKey,
      ),
      errorSlots.maskingKey,
      h(
        'div',
        { class: 'fb-row' },
        h('label', { for: `${uid}-form`, class: 'fb-label' }, 'Length form'),
        lengthForm,
      ),
      errorSlots.lengthForm,
      h(
        'div',
        { class: 'fb-row' },
        h('label', { for: `${uid}-declared`, class: 'fb-label' }, 'Declared payload length'),
        declared,
      ),
      h(
        'p',
        { class: 'fb-note', id: `${uid}-declared-hint` },
        'Leave empty to announce the real length; type another number to make the header lie.',
      ),
      errorSlots.declaredLength,
    ),
    h(
      'div',
      { class: 'fb-panel' },
      h(part, { class: 'fb-heading', id: `${uid}-payload-label` }, 'Payload'),
      h('div', { class: 'fb-row', role: 'group', 'aria-label': 'Payload format' }, ...formats),
      editorHost,
      errorSlots.payload,
    ),
    h(
      'section',
      { class: 'fb-panel', 'aria-labelledby': `${uid}-bytes-heading` },
      h(part, { class: 'fb-heading', id: `${uid}-bytes-heading` }, 'The frame, byte by byte'),
      bytesOut,
      receiver,
      xorOut,
    ),
    h(
      'section',
      { class: 'fb-panel', 'aria-labelledby': `${uid}-send-heading` },
      h(part, { class: 'fb-heading', id: `${uid}-send-heading` }, 'Send it to the lab server'),
      h(
        'p',
        { class: 'fb-note' },
        'The page opens the lab server’s /raw relay (a fresh TCP connection from the lab server to itself), sends a valid upgrade request to /echo, waits for the 101, then writes exactly the bytes above. It shows what came back and what the lab server’s annotations say about your frame.',
      ),
      h('div', { class: 'fb-row' }, sendButton),
      sendStatus,
      missing,
      reaction,
    ),
  );
  element.replaceChildren(root);

  const editor = new EditorView({
    parent: editorHost,
    state: EditorState.create({
      doc: input.payload,
      extensions: [
        history(),
        keymap.of([...defaultKeymap, ...historyKeymap]),
        EditorView.lineWrapping,
        placeholder('The payload: text, or hex bytes'),
        EditorView.contentAttributes.of({
          'aria-labelledby': `${uid}-payload-label`,
          'aria-describedby': `${uid}-payload-error`,
          spellcheck: 'false',
          autocapitalize: 'off',
          autocorrect: 'off',
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) set({ payload: update.state.doc.toString() });
        }),
      ],
    }),
  });

  // ---- behaviour -----------------------------------------------------------------------------

  function set(patch: Partial<BuilderInput>): void {
    input = { ...input, ...patch };
    result = build(input);
    render();
  }

  function switchFormat(format: PayloadFormat): void {
    const text = editor.state.doc.toString();
    let next = text;
    if (format === 'hex' && input.payloadFormat === 'text') {
      next = formatHex(new TextEncoder().encode(text));
    } else if (format === 'text' && input.payloadFormat === 'hex') {
      const parsed = parseHex(text);
      // Keep the hex when it is not valid UTF-8 text: nothing is lost silently.
      const decoded =
        parsed.errorCount === 0
          ? new TextDecoder('utf-8', { fatal: false }).decode(parsed.bytes)
          : text;
      next = decoded.includes('\ufffd') ? text : decoded;
    }
    input = { ...input, payloadFormat: format, payload: next };
    editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: next } });
    set({});
  }

  function render(): void {
    keyInput.disabled = !input.mask;
    newKey.disabled = !input.mask;
    for (const [name, slot] of Object.entries(errorSlots) as [InputName, HTMLElement][]) {
      const error = result.ok ? undefined : result.errors.find((e) => e.input === name);
      slot.textContent = error?.message ?? '';
    }
    keyInput.setAttribute(
      'aria-invalid',
      String(!result.ok && result.errors.some((e) => e.input === 'maskingKey')),
    );
    declared.setAttribute(
      'aria-invalid',
      String(!result.ok && result.errors.some((e) => e.input === 'declaredLength')),
    );
    sendButton.disabled = !result.ok || sending !== null;
    if (!result.ok) {
      bytesOut.replaceChildren(
        h('p', { class: 'fb-note' }, 'No bytes: fix the input marked above.'),
      );
      receiver.replaceChildren();
      xorOut.replaceChildren();
      return;
    }
    const built = result.built;
    bytesOut.replaceChildren(
      h(
        'p',
        { class: 'fb-summary', 'data-bytes': built.hex },
        `${built.bytes.length} bytes: `,
        h('code', { class: 'fb-hex' }, built.hex),
      ),
      h(
        'ol',
        { class: 'fb-groups', 'aria-label': 'The bytes, by field' },
        ...built.groups.map((group) =>
          h(
            'li',
            { class: `fb-group fd-field--${group.name}` },
            h('span', { class: 'fb-group-label' }, group.label),
            h('code', {}, group.hex),
          ),
        ),
      ),
      ...built.notes.map((note) => h('p', { class: 'fb-note fb-forced' }, note)),
    );

    const frame = built.frame;
    const problems: readonly ProblemView[] = frame?.problems ?? [];
    receiver.replaceChildren(
      h(part, { class: 'fb-subheading' }, 'What a server reads in it'),
      frame === null ? '' : terms(frame.facts, 'fb-facts'),
      problems.length === 0 && built.streamProblems.length === 0
        ? h(
            'p',
            { class: 'fb-ok' },
            'No rule broken: a server accepts this frame from a client (RFC 6455 §5.2).',
          )
        : h(
            'ul',
            { class: 'fb-problems' },
            ...problems.map((p) =>
              h(
                'li',
                { 'data-rule': p.rule },
                h('strong', {}, p.fatal ? `Close ${p.closeCodeText}: ` : 'Note: '),
                p.explanation,
                p.explanation.includes(p.section) ? '' : ` (${p.section})`,
              ),
            ),
            ...built.streamProblems.map((p) => h('li', { 'data-rule': p.rule }, p.explanation)),
          ),
    );

    if (built.xor.length === 0) {
      xorOut.replaceChildren(
        input.mask
          ? ''
          : h(
              'p',
              { class: 'fb-note' },
              'MASK is 0, so the payload goes out as it is. A client must mask (RFC 6455 §5.1).',
            ),
      );
      return;
    }
    const table = h(
      'table',
      { class: 'fb-xor-table' },
      h(
        'caption',
        {},
        'Masking: payload byte i XOR key byte (i mod 4) gives the byte on the wire (RFC 6455 §5.3)',
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'i'),
          h('th', { scope: 'col' }, 'payload'),
          h('th', { scope: 'col' }, 'key byte'),
          h('th', { scope: 'col' }, 'on the wire'),
        ),
      ),
      h(
        'tbody',
        {},
        ...built.xor.map((step) =>
          h(
            'tr',
            {},
            h('td', {}, String(step.index)),
            h('td', {}, `${step.plain} ${step.char === '·' ? '' : `(${step.char})`}`),
            h('td', {}, `${step.key} (key[${step.keyIndex}])`),
            h('td', {}, step.wire),
          ),
        ),
      ),
    );
    const more = built.payloadLength - built.xor.length;
    xorOut.replaceChildren(
      h('div', { class: 'fb-xor-scroll' }, table),
      more > 0 ? h('p', { class: 'fb-note' }, `…and ${more} more bytes, masked the same way.`) : '',
    );
  }

  function renderOutcome(outcome: Outcome): void {
    const replies = outcome.replies;
    reaction.replaceChildren(
      h('p', { class: `fb-outcome fb-outcome--${outcome.kind}` }, outcome.summary),
      replies.length === 0
        ? ''
        : h(
            'div',
            {},
            h(part, { class: 'fb-subheading' }, 'Frames the server sent back'),
            h(
              'ol',
              { class: 'fb-replies' },
              ...replies.map((reply) =>
                h(
                  'li',
                  { 'data-close-code': reply.closeCode ?? '' },
                  h('strong', {}, reply.heading),
                  reply.afterGoodbye ? ' (the answer to this page’s closing close 1000)' : '',
                  h('br', {}),
                  h('code', { class: 'fb-hex' }, reply.hex),
                  reply.meaning === '' ? '' : h('span', { class: 'fb-meaning' }, reply.meaning),
                ),
              ),
            ),
          ),
      outcome.annotations.length === 0
        ? ''
        : h(
            'div',
            {},
            h(part, { class: 'fb-subheading' }, 'What the lab server’s annotations say'),
            h(
              'ul',
              { class: 'fb-annotations' },
              ...outcome.annotations.map((a) =>
                h(
                  'li',
                  {},
                  a.text,
                  a.problems.length === 0
                    ? ''
                    : h(
                        'ul',
                        {},
                        ...a.problems.map((p) =>
                          h(
                            'li',
                            {},
                            p.text.includes(p.section) ? p.text : `${p.text} (${p.section})`,
                          ),
                        ),
                      ),
                ),
              ),
            ),
          ),
    );
  }

  async function send(): Promise<void> {
    if (!result.ok || sending !== null) return;
    const bytes = result.built.bytes;
    missing.replaceChildren();
    reaction.replaceChildren();
    sendButton.disabled = true;
    sendStatus.textContent = 'Looking for the lab server…';
    const candidates = labServerCandidates(location, options.fallbackServer);
    const found = await connectLabServer('/observe', { candidates });
    if (disposed) return;
    if (!found.ok) {
      const message = unavailableMessage(found.tried, location, options.fallbackServer);
      sendStatus.textContent = '';
      missing.replaceChildren(renderUnavailable(message, () => void send()));
      sendButton.disabled = !result.ok;
      return;
    }
    found.connection.socket.close();
    const current = sendFrame({
      origin: found.connection.origin,
      frame: bytes,
      open: (url) => new WebSocket(url) as unknown as SocketLike,
      onUpdate: (outcome, phase) => {
        if (disposed) return;
        sendStatus.textContent = PHASE_TEXT[phase];
        renderOutcome(outcome);
      },
    });
    sending = current;
    const done = await current.done;
    if (disposed) return;
    sending = null;
    sendStatus.textContent =
      done.error === null
        ? `Done: connection ${done.conn} on the lab server; its terminal shows the same frames.`
        : done.error;
    renderOutcome(done.outcome);
    sendButton.disabled = !result.ok;
  }

  sendButton.addEventListener('click', () => void send());
  render();

  return {
    dispose() {
      if (disposed) return;
      disposed = true;
      sending?.cancel();
      editor.destroy();
      element.replaceChildren();
    },
  };
}
