/**
 * The checker's report as text, for the terminal and for the browser page alike. Frames are
 * rendered by protocol/render-text.ts, the renderer of the lab's own annotations, so the checker
 * says about a frame what the lab server says about it. Pure: no Node built-ins, no DOM.
 */
import { ANNOTATION_SCHEMA_VERSION, type LabEvent } from '../../protocol/annotations.ts';
import { renderEvent, visible } from '../../protocol/render-text.ts';
import type { FailureReport, ProgressEvent, Report, StageResult, WireRecord } from './run.ts';

export interface TextOptions {
  readonly color: boolean;
}

const SGR = {
  red: ['31', '39'],
  green: ['32', '39'],
  dim: ['2', '22'],
  bold: ['1', '22'],
  yellow: ['33', '39'],
} as const;
type Style = keyof typeof SGR;
const paint = (color: boolean) => (style: Style, text: string) =>
  color && text !== '' ? `\x1b[${SGR[style][0]}m${text}\x1b[${SGR[style][1]}m` : text;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the renderer's own SGR codes.
const CONN_PREFIX = /^(?:\x1b\[\d+m)?\[\*\](?:\x1b\[\d+m)? /;

const arrow = (direction: WireRecord['direction']) =>
  direction === 'client-to-server' ? 'C→S' : 'S→C';

/** The line printed when a stage ends. */
export function stageLine(stage: StageResult, options: TextOptions): string {
  const p = paint(options.color);
  const n = String(stage.n).padStart(2);
  const ms = stage.checks.reduce((sum, c) => sum + c.ms, 0);
  if (stage.status === 'pass') {
    return `${p('green', '✓')} ${n}. ${stage.title}  ${p('dim', `${stage.checks.length} check${stage.checks.length === 1 ? '' : 's'}, ${ms} ms`)}`;
  }
  if (stage.status === 'fail') {
    const failed = stage.checks.find((c) => c.status === 'fail');
    const passed = stage.checks.filter((c) => c.status === 'pass').length;
    return `${p('red', '✗')} ${n}. ${stage.title}  ${p('red', `failed: ${failed?.title ?? ''}`)} ${p('dim', `(${passed} of ${stage.checks.length} checks passed before it)`)}`;
  }
  return `${p('dim', `- ${n}. ${stage.title}  ${stage.status === 'skipped' ? 'skipped (--stage)' : 'not run'}`)}`;
}

/** Lines for a progress event, as the run goes (only stage ends print). */
export function progressLines(event: ProgressEvent, options: TextOptions): string[] {
  return event.type === 'stage-end' ? [stageLine(event.stage, options)] : [];
}

function hexRows(record: WireRecord, p: ReturnType<typeof paint>): string[] {
  const bytes = record.hex.match(/../g) ?? [];
  const lines: string[] = [];
  for (let row = 0; row < bytes.length; row += 16) {
    const at = record.from + row;
    const cells = bytes.slice(row, row + 16);
    const shown = cells.map((cell, i) => (record.caret === at + i ? p('red', cell) : cell));
    lines.push(`      ${p('dim', at.toString(16).padStart(4, '0'))}  ${shown.join(' ')}`);
    if (record.caret !== undefined && record.caret >= at && record.caret < at + 16) {
      const col = (record.caret - at) * 3;
      lines.push(
        `            ${' '.repeat(col)}${p('red', '^^')} ${p('red', `byte ${record.caret} of this ${record.frame ? 'frame' : 'entry'}, stream offset ${record.offset + record.caret}`)}`,
      );
    }
  }
  const end = record.from + bytes.length;
  if (end < record.length) lines.push(`      ${p('dim', `… ${record.length - end} more bytes`)}`);
  return lines;
}

function headLines(record: WireRecord, p: ReturnType<typeof paint>): string[] {
  const text = record.text ?? '';
  const lines: string[] = [];
  let start = 0;
  for (const line of text.split('\r\n')) {
    if (line === '' && start >= text.indexOf('\r\n\r\n')) break;
    lines.push(`      ${visible(line)}`);
    if (
      record.caret !== undefined &&
      record.caret >= start &&
      record.caret <= start + line.length
    ) {
      const col = record.caret - start;
      lines.push(
        `      ${' '.repeat(col)}${p('red', '^'.repeat(Math.max(1, Math.min(line.length - col, 40))))}`,
      );
    }
    start += line.length + 2;
  }
  return lines;
}

/** What crossed the wire in the failing check, each entry annotated. */
export function wireLines(wire: readonly WireRecord[], options: TextOptions): string[] {
  const p = paint(options.color);
  const lines: string[] = [];
  for (const record of wire) {
    const where = `${p('bold', arrow(record.direction))} ${record.label}${record.length > 0 ? p('dim', ` (${record.length} bytes at offset ${record.offset})`) : ''}`;
    if (record.frame !== undefined) {
      const event = {
        v: ANNOTATION_SCHEMA_VERSION,
        seq: 0,
        t: 0,
        conn: 0,
        type: 'frame',
        direction: record.direction,
        frame: record.frame,
      } as const satisfies LabEvent;
      const rendered = renderEvent(event, { color: options.color, verbosity: 'bits' });
      // The renderer's first line starts with a connection number, which means nothing here.
      lines.push(where, ...rendered.map((line) => `  ${line.replace(CONN_PREFIX, '')}`));
      if (record.caret !== undefined) lines.push(...hexRows(record, p));
    } else if (record.text !== undefined) {
      lines.push(where, ...headLines(record, p));
    } else {
      lines.push(where);
      if (record.caret !== undefined) lines.push(...hexRows(record, p));
    }
  }
  return lines;
}

export function failureLines(failure: FailureReport, options: TextOptions): string[] {
  const p = paint(options.color);
  return [
    '',
    `${p('red', '✗')} ${p('bold', `Stage ${failure.stage} (${failure.stageId}), check ${failure.check}`)}: ${failure.checkTitle}`,
    `  ${p('dim', 'rule')}   ${p('red', failure.rule)} · ${failure.section}`,
    `  ${p('dim', 'what')}   ${visible(failure.explanation)}`,
    `  ${p('dim', 'fix')}    ${visible(failure.hint)}`,
    ...(failure.wire.length > 0
      ? [
          '',
          `  ${p('bold', 'What crossed the wire in this check')} ${p('dim', '(C→S: the checker, S→C: your server)')}`,
          ...wireLines(failure.wire, options).map((l) => `  ${l}`),
        ]
      : []),
  ];
}

/** The whole report: stage lines, the failure if any, and the verdict. */
export function reportLines(report: Report, options: TextOptions, withStages = true): string[] {
  const p = paint(options.color);
  const lines = withStages ? report.stages.map((stage) => stageLine(stage, options)) : [];
  if (report.failure !== null) {
    lines.push(...failureLines(report.failure, options));
    lines.push(
      '',
      `${p('red', 'FAIL')} at stage ${report.failure.stage} of ${report.stages.length}. Fix it, then rerun from there: pnpm lab check ${report.url} --stage ${report.failure.stage}`,
    );
  } else {
    const run = report.stages.filter((s) => s.status === 'pass').length;
    lines.push(
      '',
      `${p('green', 'PASS')}: ${run} stage${run === 1 ? '' : 's'} passed${report.fromStage > 1 ? ` (from stage ${report.fromStage})` : ''} in ${(report.ms / 1000).toFixed(1)} s.`,
    );
  }
  return lines;
}
