import type { Problem } from './types.ts';

/** Builds a Problem; `fatal` defaults to true because most broken rules fail the connection. */
export function problem(
  rule: string,
  closeCode: number | null,
  section: string,
  byteOffset: number,
  explanation: string,
  fatal = true,
): Problem {
  return { rule, closeCode, section, byteOffset, explanation, fatal };
}
