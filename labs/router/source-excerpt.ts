/**
 * Cuts a piece of the project's own source out for a chapter, at build time, so that the code a
 * page shows is the code that runs. A piece starts at the first line containing `from`; it ends
 * at the line containing `to`, or, without `to`, where the braces opened on the first line close
 * (strings, template literals and comments are skipped when counting). A marker that is no
 * longer in the file fails the build instead of showing stale code.
 */

export interface Excerpt {
  readonly code: string;
  /** 1-based line numbers in the file. */
  readonly firstLine: number;
  readonly lastLine: number;
}

export function excerpt(source: string, from: string, to?: string): Excerpt {
  const lines = source.split('\n');
  const start = lines.findIndex((line) => line.includes(from));
  if (start === -1) throw new Error(`source excerpt: no line contains ${JSON.stringify(from)}`);
  let end: number;
  if (to !== undefined) {
    end = lines.findIndex((line, i) => i >= start && line.includes(to));
    if (end === -1) throw new Error(`source excerpt: no line after ${start + 1} contains ${to}`);
  } else {
    end = closingLine(lines, start);
  }
  const piece = lines.slice(start, end + 1);
  // Remove the common indentation, so a nested function reads from the left margin.
  const indent = Math.min(
    ...piece.filter((l) => l.trim() !== '').map((l) => l.match(/^ */)?.[0].length ?? 0),
  );
  return {
    code: piece.map((l) => l.slice(indent)).join('\n'),
    firstLine: start + 1,
    lastLine: end + 1,
  };
}

/** The line on which the braces opened from line `start` on are all closed again. */
function closingLine(lines: readonly string[], start: number): number {
  let depth = 0;
  let opened = false;
  /**
   * What we are inside: a template literal, or the code of a `${}` in one (the depth at which
   * its closing brace returns to the literal).
   */
  const nesting: ('template' | number)[] = [];
  let blockComment = false;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] as string;
    let quote: string | null = null;
    for (let j = 0; j < line.length; j++) {
      const c = line[j] as string;
      const next = line[j + 1];
      if (blockComment) {
        if (c === '*' && next === '/') {
          blockComment = false;
          j++;
        }
        continue;
      }
      if (nesting[nesting.length - 1] === 'template') {
        if (c === '\\') j++;
        else if (c === '`') nesting.pop();
        else if (c === '$' && next === '{') {
          nesting.push(depth);
          depth++;
          j++;
        }
        continue;
      }
      if (quote !== null) {
        if (c === '\\') j++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === '/' && next === '/') break;
      if (c === '/' && next === '*') {
        blockComment = true;
        j++;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '`') nesting.push('template');
      else if (c === '{') {
        depth++;
        opened = true;
      } else if (c === '}') {
        depth--;
        if (nesting[nesting.length - 1] === depth) {
          nesting.pop(); // the end of a `${}`: back into its template literal
          continue;
        }
        if (opened && depth === 0) return i;
      }
    }
  }
  throw new Error(`source excerpt: the braces opened on line ${start + 1} never close`);
}
