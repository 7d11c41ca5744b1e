/**
 * The bit diagram lab: RFC 6455 §5.2's frame layout drawn bit by bit from a real frame. Every
 * bit is a button (one tab stop for the whole grid; arrow keys move between bits), every field
 * has a button in the legend (Tab moves between fields). The selected bit's field is
 * highlighted and explained; any bit can be flipped to see what the parser then says. This file
 * is the thin DOM view over model.ts.
 */
import { h, terms } from '../shared/dom.ts';
import {
  DIAGRAM_EXAMPLES,
  type DiagramExample,
  type DiagramView,
  describeBit,
  diagram,
  flipBit,
} from './model.ts';

export interface BitDiagramOptions {
  readonly headingLevel?: 2 | 3 | 4;
}

export interface MountedLab {
  dispose(): void;
}

/** Below this width the rows hold 16 bits instead of the RFC's 32. */
const NARROW_PX = 600;

let instances = 0;

type HeadingTag = 'h2' | 'h3' | 'h4' | 'h5';
const headingTag = (level: number): HeadingTag =>
  level <= 2 ? 'h2' : level === 3 ? 'h3' : level === 4 ? 'h4' : 'h5';

export function mount(element: HTMLElement, options: BitDiagramOptions = {}): MountedLab {
  const uid = `bd${++instances}`;
  const part = headingTag(options.headingLevel ?? 3);
  let example: DiagramExample = DIAGRAM_EXAMPLES[0] as DiagramExample;
  let bytes = example.bytes;
  let view: DiagramView | null = diagram(bytes, example.direction);
  let selectedBit = 0;
  let rowBits = 32;

  const exampleButtons = DIAGRAM_EXAMPLES.map((e) => {
    const button = h(
      'button',
      { type: 'button', class: 'lab-chip', 'aria-pressed': e === example ? 'true' : 'false' },
      e.label,
    );
    button.addEventListener('click', () => {
      example = e;
      bytes = e.bytes;
      selectedBit = 0;
      for (const [i, b] of exampleButtons.entries()) {
        b.setAttribute('aria-pressed', DIAGRAM_EXAMPLES[i] === e ? 'true' : 'false');
      }
      update();
    });
    return button;
  });
  const reset = h('button', { type: 'button', class: 'lab-chip' }, 'Undo all flips');
  reset.addEventListener('click', () => {
    bytes = example.bytes;
    update();
  });

  const hexLine = h('p', { class: 'bd-hex' });
  const grid = h('div', {
    class: 'bd-grid',
    role: 'group',
    'aria-label':
      'The frame bit by bit, in rows as RFC 6455 §5.2 draws it. Arrow keys move between bits; Home and End go to the start and end of a row.',
  });
  const legend = h('ul', { class: 'bd-legend', 'aria-label': 'Fields' });
  const details = h('div', { class: 'bd-details', id: `${uid}-details`, 'aria-live': 'polite' });
  const absent = h('ul', { class: 'bd-absent' });

  const root = h(
    'div',
    { class: 'bd' },
    h(
      'div',
      { class: 'bd-examples', role: 'group', 'aria-labelledby': `${uid}-examples` },
      h('span', { id: `${uid}-examples`, class: 'bd-legend-title' }, 'Frame (RFC 6455 §5.7)'),
      ...exampleButtons,
      reset,
    ),
    hexLine,
    h('div', { class: 'bd-scroll' }, grid),
    h(part, { class: 'bd-heading', id: `${uid}-fields` }, 'Fields'),
    legend,
    details,
    absent,
  );
  element.replaceChildren(root);

  function update(): void {
    view = diagram(bytes, example.direction);
    render();
  }

  function select(bit: number, focus: boolean): void {
    selectedBit = bit;
    render();
    if (focus) grid.querySelector<HTMLElement>(`[data-bit="${bit}"]`)?.focus();
  }

  function render(): void {
    const current = view;
    grid.replaceChildren();
    legend.replaceChildren();
    if (current === null) {
      details.replaceChildren(h('p', {}, 'These bytes do not hold a whole frame header.'));
      return;
    }
    const cells = current.cells;
    if (!cells.some((c) => c.bit === selectedBit)) selectedBit = 0;
    const selected = cells.find((c) => c.bit === selectedBit);
    const selectedField = selected?.fieldIndex ?? -1;
    hexLine.replaceChildren(
      'Bytes: ',
      h('code', {}, current.hex),
      current.payloadNotDrawn > 0 ? ` … and ${current.payloadNotDrawn} more payload bytes` : '',
    );

    grid.style.setProperty('--bd-row-bits', String(rowBits));
    const ruler = h('div', { class: 'bd-ruler', 'aria-hidden': 'true' }, h('span', {}, 'bit'));
    for (let bit = 0; bit < rowBits; bit++) ruler.append(h('span', {}, String(bit)));
    grid.append(ruler);

    const rows = Math.ceil(cells.length / rowBits);
    for (let r = 0; r < rows; r++) {
      const gridRow = 2 + r * 2;
      const offset = h(
        'span',
        { class: 'bd-offset', 'aria-hidden': 'true' },
        `+${(r * rowBits) / 8}`,
      );
      offset.style.gridRow = `${gridRow} / span 2`;
      grid.append(offset);
      const rowCells = cells.slice(r * rowBits, (r + 1) * rowBits);
      // Field labels over their bits, as in the RFC's drawing.
      let start = 0;
      while (start < rowCells.length) {
        const first = rowCells[start];
        if (first === undefined) break;
        let end = start;
        while (rowCells[end + 1]?.fieldIndex === first.fieldIndex) end++;
        const field = current.fields[first.fieldIndex];
        const label = h(
          'span',
          {
            class: `bd-label fd-field--${first.field}${first.fieldIndex === selectedField ? ' bd-on' : ''}`,
            'aria-hidden': 'true',
          },
          end - start + 1 >= 3 ? (field?.label ?? '') : (field?.label.replace(/^RSV/, 'R') ?? ''),
        );
        label.style.gridRow = String(gridRow);
        label.style.gridColumn = `${start + 2} / span ${end - start + 1}`;
        grid.append(label);
        start = end + 1;
      }
      for (const [i, cell] of rowCells.entries()) {
        const field = current.fields[cell.fieldIndex];
        const on = cell.fieldIndex === selectedField;
        const button = h(
          'button',
          {
            type: 'button',
            class: `bd-bit fd-field--${cell.field}${on ? ' bd-on' : ''}${cell.bit === selectedBit ? ' bd-selected' : ''}`,
            'data-bit': cell.bit,
            'data-field': cell.field,
            tabindex: cell.bit === selectedBit ? 0 : -1,
            'aria-pressed': cell.bit === selectedBit ? 'true' : 'false',
            'aria-label': `Bit ${cell.bit}, ${field?.label ?? ''}: ${cell.value}`,
            'aria-controls': `${uid}-details`,
          },
          String(cell.value),
        );
        button.style.gridRow = String(gridRow + 1);
        button.style.gridColumn = String(i + 2);
        button.addEventListener('click', () => select(cell.bit, true));
        button.addEventListener('keydown', (event) => move(event, cell.bit, cells.length));
        grid.append(button);
      }
    }

    for (const [index, field] of current.fields.entries()) {
      const first = cells.find((c) => c.fieldIndex === index);
      if (first === undefined) continue;
      const button = h(
        'button',
        {
          type: 'button',
          class: `bd-field fd-field--${field.name}${index === selectedField ? ' bd-on' : ''}`,
          'data-field': field.name,
          'aria-pressed': index === selectedField ? 'true' : 'false',
          'aria-controls': `${uid}-details`,
        },
        h('span', { class: 'bd-field-label' }, field.label),
        h('span', { class: 'bd-field-value' }, field.valueText),
      );
      button.addEventListener('click', () => {
        selectedBit = first.bit;
        render();
        legend.querySelectorAll<HTMLElement>('.bd-field')[index]?.focus();
      });
      legend.append(h('li', {}, button));
    }

    renderDetails(current);
    absent.replaceChildren(
      ...current.absent.map((text) => h('li', {}, `Not in this frame: ${text}`)),
    );
  }

  function renderDetails(current: DiagramView): void {
    const cell = current.cells.find((c) => c.bit === selectedBit);
    const field = cell === undefined ? undefined : current.fields[cell.fieldIndex];
    if (cell === undefined || field === undefined) {
      details.replaceChildren();
      return;
    }
    const flip = h('button', { type: 'button', class: 'lab-chip' }, `Flip bit ${cell.bit}`);
    flip.addEventListener('click', () => {
      bytes = flipBit(bytes, cell.bit);
      update();
      details.querySelector<HTMLElement>('button')?.focus();
    });
    const problems = current.problems.filter((p) => p.fatal || p.closeCode !== null);
    details.replaceChildren(
      h(
        part,
        { class: 'bd-details-heading', 'data-field': field.name },
        `${field.label}: ${field.valueText}`,
      ),
      h('p', { class: 'bd-meaning' }, field.meaning),
      h('p', {}, describeBit(current, cell.bit)),
      terms(
        field.details.filter((d) => d.term !== 'Meaning' && d.term !== 'Value'),
        'bd-terms',
      ),
      h('p', {}, flip, ' to see what a receiver would make of the changed frame.'),
      problems.length === 0
        ? h('p', { class: 'bd-ok' }, 'As drawn, this frame breaks no rule.')
        : h(
            'ul',
            { class: 'bd-problems' },
            ...problems.map((p) =>
              h(
                'li',
                { 'data-rule': p.rule },
                `${p.explanation} Close code: ${p.closeCodeText}.${p.explanation.includes(p.section) ? '' : ` (${p.section})`}`,
              ),
            ),
          ),
    );
  }

  function move(event: KeyboardEvent, bit: number, count: number): void {
    const next: Record<string, number> = {
      ArrowRight: bit + 1,
      ArrowLeft: bit - 1,
      ArrowDown: bit + rowBits,
      ArrowUp: bit - rowBits,
      Home: bit - (bit % rowBits),
      End: Math.min(count - 1, bit - (bit % rowBits) + rowBits - 1),
    };
    const target = next[event.key];
    if (target === undefined) return;
    event.preventDefault();
    if (target >= 0 && target < count) select(target, true);
  }

  const resize = new ResizeObserver(() => {
    const bits = element.clientWidth < NARROW_PX ? 16 : 32;
    if (bits === rowBits) return;
    rowBits = bits;
    const focused = grid.contains(document.activeElement);
    render();
    if (focused) grid.querySelector<HTMLElement>(`[data-bit="${selectedBit}"]`)?.focus();
  });
  resize.observe(element);
  render();

  return {
    dispose() {
      resize.disconnect();
      element.replaceChildren();
    },
  };
}
