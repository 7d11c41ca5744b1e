/**
 * Frame events as rows of the table beside the terminal. The terminal's own lines come from
 * protocol/render-text.ts, the renderer the `pnpm lab` terminal uses too.
 */
import { type LabEvent, wirePayloadHex } from '../../protocol/annotations.ts';
import { visible } from '../../protocol/render-text.ts';

/**
 * `48656c` → `48 65 6c`, at most `limit` bytes, with a count of the rest. `total` is the real
 * length when `hex` is only a preview of it.
 */
export function spacedHex(hex: string, limit = 24, total?: number): string {
  const bytes = hex.match(/../g) ?? [];
  const length = total ?? bytes.length;
  const shown = bytes.slice(0, limit).join(' ');
  return length > limit ? `${shown} … (${length - Math.min(limit, bytes.length)} more)` : shown;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function hexToText(hex: string): string {
  return decoder.decode(Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16)));
}

/** Text from the wire, control characters escaped, cut to `limit` characters. */
function quoted(text: string, limit = 40): string {
  return text.length > limit ? `${visible(text.slice(0, limit), true)}…` : visible(text, true);
}

/** One row of the frames table. */
export interface FrameRow {
  readonly seq: number;
  readonly direction: 'client-to-server' | 'server-to-client';
  readonly opcode: string;
  readonly fin: string;
  readonly mask: string;
  readonly maskingKey: string;
  readonly length: string;
  /** The payload as sent: masked bytes for a masked frame. */
  readonly wire: string;
  /** The payload unmasked: text, a close code and reason, or hex. */
  readonly payload: string;
}

export function frameRow(event: LabEvent): FrameRow | null {
  if (event.type !== 'frame') return null;
  const f = event.frame;
  const isText = f.opcode === 0x1 || f.opcode === 0x9 || f.opcode === 0xa;
  const payload =
    f.unmaskedHex === ''
      ? '(empty)'
      : f.opcode === 0x8 && f.close !== undefined && f.close.code !== null
        ? `${f.close.code}${f.close.reason === '' ? '' : ` ${quoted(f.close.reason)}`}`
        : isText
          ? quoted(hexToText(f.unmaskedHex))
          : spacedHex(f.unmaskedHex, 8, f.payloadReceived);
  return {
    seq: event.seq,
    direction: event.direction,
    opcode: `${f.opcodeName} (0x${f.opcode.toString(16)})`,
    fin: f.fin ? '1' : '0',
    mask: f.mask ? '1' : '0',
    maskingKey: f.maskingKey === null ? '—' : spacedHex(f.maskingKey),
    length: `${f.payloadLength} (${f.lengthForm})`,
    wire: f.unmaskedHex === '' ? '—' : spacedHex(wirePayloadHex(f), 8, f.payloadReceived),
    payload,
  };
}
