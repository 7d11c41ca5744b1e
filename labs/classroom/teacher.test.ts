import { describe, expect, it } from 'vitest';
import {
  type ElementLike,
  exportFileName,
  hashWithoutToken,
  joinLink,
  svgProblem,
  tokenFromHash,
} from './teacher.ts';

const SVG = 'http://www.w3.org/2000/svg';

function el(
  localName: string,
  attributes: Record<string, string> = {},
  children: ElementLike[] = [],
  namespaceURI: string | null = SVG,
): ElementLike {
  return {
    localName,
    namespaceURI,
    getAttributeNames: () => Object.keys(attributes),
    getAttribute: (name) => attributes[name] ?? null,
    children,
  };
}

describe('the teacher token', () => {
  const token = 'q3VbT1oCw0bXH2u6y7sYpRkQe9n8m4LzA1B2C3D4E5F';

  it('is read from the fragment, and only when it looks like a token', () => {
    expect(tokenFromHash(`#token=${token}`)).toBe(token);
    expect(tokenFromHash(`#x=1&token=${token}`)).toBe(token);
    expect(tokenFromHash('#token=short')).toBeNull();
    expect(tokenFromHash('#token=<script>alert(1)</script>xxxxxxxx')).toBeNull();
    expect(tokenFromHash('')).toBeNull();
  });

  it('is removed from the address bar, keeping the rest of the fragment', () => {
    expect(hashWithoutToken(`#token=${token}`)).toBe('');
    expect(hashWithoutToken(`#token=${token}&view=frames`)).toBe('#view=frames');
  });
});

describe('the QR code SVG from the server', () => {
  const qr = el('svg', { xmlns: SVG, viewBox: '0 0 29 29' }, [
    el('rect', { width: '29', height: '29', fill: '#fff' }),
    el('path', { d: 'M0 0h7v7H0z', fill: '#000' }),
  ]);

  it('is accepted when it is only shapes', () => {
    expect(svgProblem(qr)).toBeNull();
  });

  it('is refused with the reason when it could run or load anything', () => {
    expect(svgProblem(el('html', {}, [], 'http://www.w3.org/1999/xhtml'))).toMatch(/not an SVG/);
    expect(svgProblem(el('svg', {}, [el('script')]))).toMatch(/<script>/);
    expect(svgProblem(el('svg', {}, [el('foreignObject')]))).toMatch(/<foreignObject>/);
    expect(svgProblem(el('svg', {}, [el('image', { href: 'http://x/' })]))).toMatch(/<image>/);
    expect(svgProblem(el('svg', {}, [el('use', { href: '#a' })]))).toMatch(/<use>/);
    expect(svgProblem(el('svg', {}, [el('style')]))).toMatch(/<style>/);
    expect(svgProblem(el('svg', { onload: 'alert(1)' }))).toMatch(/onload/);
    expect(svgProblem(el('svg', {}, [el('rect', { fill: 'url(http://x/#p)' })]))).toMatch(
      /refers elsewhere/,
    );
    expect(svgProblem(el('svg', {}, [el('g', {}, [el('a', { href: 'javascript:1' })])]))).toMatch(
      /<a>/,
    );
  });

  it('is refused when absurdly large', () => {
    const many = el(
      'svg',
      {},
      Array.from({ length: 20 }, () => el('rect')),
    );
    expect(svgProblem(many, 10)).toMatch(/more than 10 elements/);
  });
});

describe('exports and links', () => {
  it('names the export after the class code and the day', () => {
    const day = new Date('2026-11-25T09:30:00Z');
    expect(exportFileName('K7QX2M', 'csv', day)).toBe('class-K7QX2M-results-2026-11-25.csv');
    expect(exportFileName('../..', 'json', day)).toBe('class-class-results-2026-11-25.json');
  });

  it('prefills the code in the student link', () => {
    expect(joinLink('http://10.0.0.5:6455/classroom/', 'K7QX2M')).toBe(
      'http://10.0.0.5:6455/classroom/#code=K7QX2M',
    );
    expect(joinLink('not a url', 'K7QX2M')).toBe('not a url');
  });
});
