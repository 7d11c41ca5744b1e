/**
 * The frame decoder lab: paste hex, see every frame drawn field by field. This file is the thin
 * DOM view; everything it shows comes from `decode` and `layoutDiagram` in model.ts.
 */
import { append, h, terms } from '../shared/dom.ts';
import { EXAMPLES } from './examples.ts';
import {
  type DecoderView,
  type DiagramCell,
  type DirectionChoice,
  decode,
  type FieldView,
  type FrameView,
  layoutDiagram,
  type MessageView,
  type ProblemView,
} from './model.ts';

export interface FrameDecoderOptions {
  /** Hex to start with. */
  readonly initialHex?: string;
  readonly direction?: DirectionChoice;
  /** Heading level of each frame's heading; the page's own section heading sits above it. */
  readonly headingLevel?: 2 | 3 | 4;
  /** Payload bytes kept per frame for display; default 256. */
  readonly previewLimit?: number;
}

export interface MountedLab {
  dispose(): void;
}

/** Below this width the diagram uses 16-bit rows instead of the RFC's 32. */
const NARROW_PX = 560;
const INPUT_DELAY_MS = 120;

let instances = 0;

const DIRECTIONS: readonly { value: DirectionChoice; label: string }[] = [
  { value: 'auto', label: 'Guess from MASK' },
  { value: 'client-to-server', label: 'Client → server' },
  { value: 'server-to-client', label: 'Server → client' },
];

type HeadingTag = 'h2' | 'h3' | 'h4' | 'h5';
const headingTag = (level: number): HeadingTag =>
  level <= 2 ? 'h2' : level === 3 ? 'h3' : level === 4 ? 'h4' : 'h5';

export function mount(element: HTMLElement, options: FrameDecoderOptions = {}): MountedLab {
  const uid = `fd${++instances}`;
  const level = options.headingLevel ?? 3;
  const frameHeading = headingTag(level);
  const partHeading = headingTag(level + 1);
  let direction: DirectionChoice = options.direction ?? 'auto';
  let rowBits = 32;
  let view: DecoderView | null = null;
  /** The selected field of each frame, by field key. */
  const selected = new Map<number, string>();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const textarea = h('textarea', {
    id: `${uid}-input`,
    class: 'fd-input',
    rows: 4,
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    'aria-describedby': `${uid}-hint ${uid}-errors`,
  });
  textarea.value = options.initialHex ?? '';
  const errors = h('div', { id: `${uid}-errors`, class: 'fd-errors' });
  const directionNote = h('p', { class: 'fd-note', id: `${uid}-direction-note` });
  const status = h('p', { class: 'fd-status', role: 'status' });
  const output = h('div', { class: 'fd-output' });

  const radios = DIRECTIONS.map(({ value, label }) => {
    const input = h('input', {
      type: 'radio',
      name: `${uid}-direction`,
      value,
      checked: value === direction,
    });
    return { input, label: h('label', { class: 'fd-radio' }, input, ` ${label}`) };
  });

  const exampleButtons = EXAMPLES.map((example) =>
    h('button', { type: 'button', class: 'lab-chip', title: example.description }, example.label),
  );

  const root = h(
    'div',
    { class: 'fd' },
    h(
      'div',
      { class: 'fd-panel' },
      h('label', { for: `${uid}-input`, class: 'fd-label' }, 'Bytes in hex'),
      h(
        'p',
        { id: `${uid}-hint`, class: 'fd-note' },
        'Spaces, commas, 0x prefixes and new lines are fine, and so are hex dumps from Wireshark, xxd, hexdump -C or Chrome DevTools: their offsets and ASCII column are skipped.',
      ),
      textarea,
      errors,
      h(
        'div',
        { class: 'fd-controls' },
        h(
          'fieldset',
          { class: 'fd-direction', 'aria-describedby': `${uid}-direction-note` },
          h('legend', {}, 'Direction'),
          ...radios.map((r) => r.label),
        ),
        h(
          'div',
          { class: 'fd-examples', role: 'group', 'aria-labelledby': `${uid}-examples` },
          h('span', { id: `${uid}-examples`, class: 'fd-legend' }, 'Examples from RFC 6455 §5.7'),
          h('div', { class: 'fd-example-buttons' }, ...exampleButtons),
        ),
      ),
      directionNote,
    ),
    status,
    output,
  );
  element.replaceChildren(root);

  function update(): void {
    // Screen readers (and tests) learn that the output is settled again.
    output.removeAttribute('aria-busy');
    view = decode({
      text: textarea.value,
      direction,
      ...(options.previewLimit === undefined ? {} : { previewLimit: options.previewLimit }),
    });
    selected.clear();
    renderInputFeedback(view);
    renderOutput();
  }

  function renderInputFeedback(current: DecoderView): void {
    textarea.setAttribute('aria-invalid', current.state === 'hex-errors' ? 'true' : 'false');
    const dump =
      current.dumpLines > 0
        ? ` Read ${current.dumpLines} line${current.dumpLines === 1 ? '' : 's'} as a hex dump (offsets and ASCII column skipped).`
        : '';
    status.textContent = current.summary + dump;
    directionNote.textContent = current.state === 'decoded' ? current.directionNote : '';
    errors.replaceChildren();
    if (current.state !== 'hex-errors') return;
    const list = h('ul', {});
    for (const error of current.hexErrors) {
      const show = h('button', { type: 'button', class: 'fd-link-button' }, 'show');
      show.addEventListener('click', () => {
        textarea.focus();
        textarea.setSelectionRange(error.index, error.index + error.character.length);
      });
      list.append(h('li', {}, `${error.message} `, show));
    }
    const more = current.hexErrorCount - current.hexErrors.length;
    errors.append(list, more > 0 ? h('p', { class: 'fd-note' }, `…and ${more} more.`) : '');
  }

  function renderOutput(): void {
    const focusedKey =
      document.activeElement instanceof HTMLElement && output.contains(document.activeElement)
        ? document.activeElement.dataset.key
        : undefined;
    output.replaceChildren();
    const current = view;
    if (current === null) return;
    if (current.state === 'empty') {
      output.append(h('p', { class: 'fd-note' }, 'Paste some bytes above, or pick an example.'));
      return;
    }
    if (current.state !== 'decoded') return;
    if (current.failureNote !== null) {
      output.append(h('p', { class: 'fd-stop' }, current.failureNote));
    }
    current.frames.forEach((frame, i) => {
      output.append(renderFrame(frame));
      if (frame.failsHere && i < current.frames.length - 1) {
        output.append(
          h(
            'p',
            { class: 'fd-stop-marker' },
            'A real endpoint stops reading here. The frames below are decoded for learning only.',
          ),
        );
      }
    });
    if (current.streamProblems.length > 0) {
      output.append(
        h(
          'section',
          { class: 'fd-frame', 'aria-label': 'Problems with the stream' },
          h(frameHeading, { class: 'fd-frame-heading' }, 'End of the stream'),
          renderProblems(current.streamProblems),
        ),
      );
    }
    if (current.messages.length > 0) output.append(renderMessages(current.messages));
    if (focusedKey !== undefined) {
      output
        .querySelector<HTMLElement>(`[data-key="${CSS.escape(focusedKey)}"][tabindex="0"]`)
        ?.focus();
    }
  }

  function renderFrame(frame: FrameView): HTMLElement {
    const headingId = `${uid}-frame${frame.index}`;
    const detailsId = `${uid}-frame${frame.index}-details`;
    const classes = ['fd-frame'];
    if (frame.afterFailure) classes.push('fd-frame--after-failure');
    if (frame.failsHere) classes.push('fd-frame--fails');
    const details = h('div', { id: detailsId, class: 'fd-details', 'aria-live': 'polite' });
    const diagram = renderDiagram(frame, detailsId, details);
    renderDetails(frame, details);
    return h(
      'article',
      { class: classes.join(' '), 'aria-labelledby': headingId, 'data-frame': frame.index },
      h(frameHeading, { id: headingId, class: 'fd-frame-heading' }, frame.heading),
      frame.afterFailure
        ? h(
            'p',
            { class: 'fd-note fd-after-failure-note' },
            'A real endpoint would already have closed the connection and never read this frame.',
          )
        : '',
      terms(frame.facts, 'fd-facts'),
      frame.problems.length > 0 ? renderProblems(frame.problems) : '',
      diagram,
      details,
      renderPayload(frame),
    );
  }

  function renderDiagram(frame: FrameView, detailsId: string, details: HTMLElement): HTMLElement {
    const grid = h('div', {
      class: 'fd-diagram',
      role: 'group',
      'aria-label': `Frame ${frame.index + 1} drawn in ${rowBits}-bit rows, as in RFC 6455 §5.2. Each field is a button that shows its details.`,
    });
    grid.style.setProperty('--fd-row-bits', String(rowBits));
    const ruler = h('div', { class: 'fd-ruler', 'aria-hidden': 'true' }, h('span', {}, 'byte'));
    for (let bit = 0; bit < rowBits; bit++) ruler.append(h('span', {}, String(bit)));
    grid.append(ruler);

    const rows = layoutDiagram(frame, rowBits);
    const buttons: HTMLButtonElement[] = [];
    rows.forEach((row, r) => {
      const offset = h(
        'span',
        { class: 'fd-row-offset', 'aria-hidden': 'true' },
        `+${row.startBit / 8}`,
      );
      offset.style.gridRow = String(r + 2);
      grid.append(offset);
      for (const cell of row.cells) {
        const field = frame.fields.find((f) => f.key === cell.key);
        if (field === undefined) continue;
        const button = renderCell(cell, field, detailsId);
        button.style.gridRow = String(r + 2);
        button.style.gridColumn = `${cell.column + 2} / span ${cell.width}`;
        button.addEventListener('click', () => {
          selected.set(frame.index, field.key);
          for (const b of buttons) {
            b.setAttribute('aria-pressed', b.dataset.key === field.key ? 'true' : 'false');
          }
          renderDetails(frame, details);
        });
        buttons.push(button);
        grid.append(button);
      }
    });
    return h('div', { class: 'fd-diagram-scroll' }, grid);
  }

  function renderCell(cell: DiagramCell, field: FieldView, detailsId: string): HTMLButtonElement {
    const classes = ['fd-cell', `fd-field--${cell.name}`];
    if (cell.continued) classes.push('fd-cell--continued');
    if (cell.width <= 2) classes.push('fd-cell--narrow');
    if (field.problemRules.length > 0) classes.push('fd-cell--problem');
    const isSelected = [...selected.values()].includes(field.key);
    const units = cell.name === 'payload' ? cell.content.split(' ') : [...cell.content];
    // The button is named by what it shows (label, bits, value), so speech input can name it by
    // what is on screen (WCAG 2.5.3); the spaces between the parts only separate words, as the
    // cell lays them out in a flex column and a grid.
    const button = h('button', {
      type: 'button',
      class: classes.join(' '),
      'data-key': field.key,
      'data-field': field.name,
      'aria-pressed': isSelected ? 'true' : 'false',
      'aria-controls': detailsId,
      // One tab stop per field: the pieces of a field split over rows share its first cell's stop.
      tabindex: cell.continued ? -1 : 0,
    });
    const label = h('span', { class: 'fd-cell-label' }, cell.label);
    const content = h('span', { class: 'fd-cell-bits' });
    if (cell.name === 'payload' && cell.content.startsWith('…')) {
      content.classList.add('fd-cell-bits--text');
      content.textContent = cell.content;
    } else {
      content.style.setProperty('--fd-units', String(Math.max(1, units.length)));
      for (const [i, unit] of units.entries())
        content.append(i > 0 ? ' ' : '', h('span', {}, unit));
    }
    append(button, [
      label,
      ' ',
      content,
      cell.value === '' ? '' : ' ',
      cell.value === '' ? '' : h('span', { class: 'fd-cell-value' }, cell.value),
      cell.continued ? h('span', { class: 'sr-only' }, ' (continued)') : '',
      field.problemRules.length > 0 && !cell.continued
        ? h('span', { class: 'sr-only' }, ` (breaks ${field.problemRules.join(', ')})`)
        : '',
    ]);
    return button;
  }

  function renderDetails(frame: FrameView, details: HTMLElement): void {
    const key = selected.get(frame.index);
    const field = frame.fields.find((f) => f.key === key);
    if (field === undefined) {
      details.replaceChildren(
        h(
          'p',
          { class: 'fd-note' },
          'Select a field (click it, or Tab to it and press Enter) to see what it means, where it sits and how wide it is.',
        ),
      );
      return;
    }
    details.replaceChildren(
      h(partHeading, { class: 'fd-details-heading' }, `${field.label}`),
      terms(field.details, 'fd-terms'),
    );
  }

  function renderPayload(frame: FrameView): HTMLElement {
    const p = frame.payload;
    const section = h(
      'section',
      { class: 'fd-payload', 'aria-label': `Payload of frame ${frame.index + 1}` },
      h(partHeading, {}, 'Payload'),
    );
    if (p.length === '0') {
      section.append(h('p', { class: 'fd-note' }, 'This frame has no payload.'));
      return section;
    }
    if (p.shown < p.received) {
      section.append(
        h('p', { class: 'fd-note' }, `Showing the first ${p.shown} of ${p.received} bytes.`),
      );
    }
    const textLabel = p.textKind === 'utf-8' ? 'as UTF-8 text' : 'as ASCII, · for other bytes';
    const rows = p.masked
      ? [
          ['Masked, as sent (hex)', p.wireHex, 'masked-hex'],
          ['Masked, as sent (as ASCII)', p.wireText, 'masked-text'],
          ['Unmasked (hex)', p.unmaskedHex, 'unmasked-hex'],
          [`Unmasked (${textLabel})`, p.unmaskedText, 'unmasked-text'],
        ]
      : [
          ['Hex', p.unmaskedHex, 'unmasked-hex'],
          [`Text (${textLabel})`, p.unmaskedText, 'unmasked-text'],
        ];
    const list = h('dl', { class: 'fd-payload-list' });
    for (const [term, value, part] of rows) {
      list.append(
        h(
          'div',
          {},
          h('dt', {}, term ?? ''),
          h('dd', {}, h('code', { 'data-part': part }, value ?? '')),
        ),
      );
    }
    section.append(list);
    if (frame.close !== null) section.append(terms([frame.close], 'fd-facts'));
    if (p.xor.length > 0) section.append(renderXor(frame));
    return section;
  }

  function renderXor(frame: FrameView): HTMLElement {
    const p = frame.payload;
    const body = h('tbody', {});
    for (const step of p.xor) {
      body.append(
        h(
          'tr',
          {},
          h('td', {}, String(step.index)),
          h('td', {}, h('code', {}, step.wire)),
          h(
            'td',
            {},
            h('code', {}, step.key),
            h('span', { class: 'fd-sub' }, ` key[${step.keyIndex}]`),
          ),
          h('td', {}, h('code', {}, step.plain)),
          h('td', {}, h('code', {}, step.char)),
        ),
      );
    }
    const table = h(
      'table',
      { class: 'fd-xor' },
      h(
        'caption',
        {},
        'Unmasking byte by byte: byte i of the payload XOR byte i mod 4 of the masking key (RFC 6455 §5.3).',
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'i'),
          h('th', { scope: 'col' }, 'on the wire'),
          h('th', { scope: 'col' }, 'XOR key byte'),
          h('th', { scope: 'col' }, '= unmasked'),
          h('th', { scope: 'col' }, 'char'),
        ),
      ),
      body,
    );
    return h(
      'div',
      { class: 'fd-xor-wrap' },
      table,
      p.xorOmitted > 0
        ? h('p', { class: 'fd-note' }, `…and ${p.xorOmitted} more bytes, the same way.`)
        : '',
    );
  }

  function renderProblems(problems: readonly ProblemView[]): HTMLElement {
    const list = h('ul', { class: 'fd-problems', 'aria-label': 'Problems' });
    for (const problem of problems) {
      const section =
        problem.sectionUrl === null
          ? problem.section
          : h('a', { href: problem.sectionUrl, rel: 'noopener noreferrer' }, problem.section);
      list.append(
        h(
          'li',
          {
            class: `fd-problem${problem.fatal ? ' fd-problem--fatal' : ''}`,
            'data-rule': problem.rule,
          },
          h(
            'p',
            { class: 'fd-problem-title' },
            h('strong', {}, problem.fatal ? 'Problem' : 'Note'),
            ` at byte ${problem.byteOffset}: `,
            h('code', {}, problem.rule),
          ),
          h('p', {}, problem.explanation),
          h(
            'p',
            { class: 'fd-problem-meta' },
            'Close code: ',
            h('span', { 'data-part': 'close-code' }, problem.closeCodeText),
            ' · ',
            section,
          ),
        ),
      );
    }
    return list;
  }

  function renderMessages(messages: readonly MessageView[]): HTMLElement {
    const list = h('ol', { class: 'fd-messages' });
    for (const m of messages) {
      list.append(
        h(
          'li',
          { 'data-message': m.index },
          `${m.type === 'text' ? 'Text' : 'Binary'} message of ${m.length} byte${m.length === 1 ? '' : 's'}, from ${m.frames}${m.compressed ? ' (compressed; shown as sent)' : ''}: `,
          h('code', {}, m.content),
          m.truncated ? ' …' : '',
        ),
      );
    }
    return h(
      'section',
      { class: 'fd-frame', 'aria-labelledby': `${uid}-messages` },
      h(frameHeading, { id: `${uid}-messages`, class: 'fd-frame-heading' }, 'Assembled messages'),
      list,
    );
  }

  const onInput = () => {
    output.setAttribute('aria-busy', 'true');
    clearTimeout(timer);
    timer = setTimeout(update, INPUT_DELAY_MS);
  };
  const onDirection = (event: Event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.checked) return;
    direction = target.value as DirectionChoice;
    update();
  };
  const exampleHandlers = exampleButtons.map((button, i) => {
    const handler = () => {
      textarea.value = EXAMPLES[i]?.hex ?? '';
      direction = 'auto';
      for (const r of radios) r.input.checked = r.input.value === 'auto';
      update();
    };
    button.addEventListener('click', handler);
    return handler;
  });

  textarea.addEventListener('input', onInput);
  root.addEventListener('change', onDirection);

  const resize = new ResizeObserver(() => {
    const next = root.clientWidth < NARROW_PX ? 16 : 32;
    if (next === rowBits) return;
    rowBits = next;
    renderOutput();
  });
  rowBits = root.clientWidth > 0 && root.clientWidth < NARROW_PX ? 16 : 32;
  resize.observe(root);
  update();

  return {
    dispose() {
      clearTimeout(timer);
      resize.disconnect();
      textarea.removeEventListener('input', onInput);
      root.removeEventListener('change', onDirection);
      exampleButtons.forEach((button, i) => {
        const handler = exampleHandlers[i];
        if (handler !== undefined) button.removeEventListener('click', handler);
      });
      element.replaceChildren();
    },
  };
}
