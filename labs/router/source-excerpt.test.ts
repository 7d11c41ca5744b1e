import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { excerpt } from './source-excerpt.ts';

describe('excerpt', () => {
  it('takes a block up to the brace that closes it, skipping braces in strings, templates and comments', () => {
    const source = [
      'const a = 1;',
      'function f() {',
      "  const s = '}';",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source under test holds a template literal.
      '  const t = `${{ x: 1 }.x} }`; // }',
      '  /* } */',
      '  return s;',
      '}',
      'const b = 2;',
    ].join('\n');
    const piece = excerpt(source, 'function f');
    expect(piece.firstLine).toBe(2);
    expect(piece.lastLine).toBe(7);
    expect(piece.code.endsWith('return s;\n}')).toBe(true);
  });

  it('ends at a `to` marker and removes the common indentation', () => {
    const piece = excerpt('x\n    one {\n      two\n    three\n', 'one', 'three');
    expect(piece.code).toBe('one {\n  two\nthree');
  });

  it('fails the build when a marker is gone, rather than show stale code', () => {
    expect(() => excerpt('a\nb', 'nowhere')).toThrow(/no line contains/);
    expect(() => excerpt('f() {\n', 'f()')).toThrow(/never close/);
  });

  it('finds the routing of the real lab server', () => {
    const server = readFileSync(new URL('../../lab-server/server.ts', import.meta.url), 'utf8');
    const request = excerpt(server, "http.on('request'");
    expect(request.code).toMatch(/^http\.on\('request'/);
    expect(request.code).toMatch(/site\(req, res\);\n\}\);$/);
    const upgrade = excerpt(server, 'async function upgrade(', 'if (!origin.ok)');
    expect(upgrade.code).toContain('validateUpgradeRequest');
  });
});
