/**
 * One measurement in a process of its own: one parser, one stream. `bench/parser.ts` starts it
 * once per row and side, because a parser's speed here depends on the state of the V8 heap the
 * previous measurement left: after our parser's passes over 64 KiB reads, the same parser ran
 * up to 5x slower on 4 KiB reads in the same process.
 *
 *   tsx bench/measure.ts '{"side":"ws","size":16,"text":false,"bytes":1000000,"readSize":65536,"warmup":2,"rounds":7}'
 *
 * Prints `{"ms": <median>, "frames": <n>, "bytes": <n>, "spanning": <n>}`.
 */
import { oursPass, wsPass } from './runners.ts';
import { clientStream, reads, spanning } from './streams.ts';

export type Side = 'ws' | 'ours' | 'ours-whole';

export interface MeasureRequest {
  readonly side: Side;
  readonly size: number;
  readonly text: boolean;
  readonly bytes: number;
  readonly readSize: number;
  readonly warmup: number;
  readonly rounds: number;
}

export interface MeasureResult {
  /** Median milliseconds of the timed passes. */
  readonly ms: number;
  readonly frames: number;
  readonly bytes: number;
  /** Frames that lie across a boundary between two reads. */
  readonly spanning: number;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function measure(request: MeasureRequest): MeasureResult {
  const stream = clientStream(request.size, request.text, request.bytes);
  const passes = request.warmup + request.rounds;
  // ws unmasks payloads in place, inside the buffers it is given: fresh reads for every pass.
  const wsReads =
    request.side === 'ws'
      ? Array.from({ length: passes }, () => reads(stream.bytes, request.readSize))
      : [];
  const ourReads = reads(stream.bytes, request.readSize);
  const times: number[] = [];
  for (let round = 0; round < passes; round++) {
    const { ms, messages } =
      request.side === 'ws'
        ? wsPass(wsReads.pop() ?? [])
        : oursPass(ourReads, request.side === 'ours-whole' ? Number.POSITIVE_INFINITY : undefined);
    // Every frame is one message: a side that delivered fewer skipped work.
    if (messages !== stream.frames) {
      throw new Error(`${request.side} delivered ${messages} messages for ${stream.frames} frames`);
    }
    if (round >= request.warmup) times.push(ms);
  }
  return {
    ms: median(times),
    frames: stream.frames,
    bytes: stream.bytes.length,
    spanning: spanning(stream, request.readSize),
  };
}

process.stdout.write(
  `${JSON.stringify(measure(JSON.parse(process.argv[2] ?? '') as MeasureRequest))}\n`,
);
