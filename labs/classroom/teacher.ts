/**
 * The dashboard's pure helpers: where the teacher token comes from, whether the server's QR
 * code SVG is only a drawing, and the export's file names. No DOM here (the SVG check takes
 * anything shaped like an element), so each rule is unit-tested.
 */

/**
 * The token in the teacher URL's fragment (`#token=...`). Fragments never leave the browser (no
 * request line, no Referer: RFC 3986 §3.5, Fetch's referrer rules strip them), and the page
 * removes it from the address bar at once so it does not linger in history or on a projector.
 */
export function tokenFromHash(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token !== null && /^[A-Za-z0-9_-]{16,128}$/.test(token) ? token : null;
}

/** The fragment without `token=`, to put back in the address bar ('' when nothing is left). */
export function hashWithoutToken(hash: string): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  params.delete('token');
  const rest = params.toString();
  return rest === '' ? '' : `#${rest}`;
}

/** The parts of a DOM Element the SVG check reads, so it can be tested without a DOM. */
export interface ElementLike {
  readonly localName: string;
  readonly namespaceURI: string | null;
  getAttributeNames(): string[];
  getAttribute(name: string): string | null;
  readonly children: ArrayLike<ElementLike>;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A QR code needs rectangles or paths; nothing that runs, loads or embeds. */
const ALLOWED_ELEMENTS = new Set(['svg', 'g', 'path', 'rect', 'title', 'desc']);
const ALLOWED_ATTRIBUTES = new Set([
  'xmlns',
  'viewBox',
  'width',
  'height',
  'version',
  'd',
  'x',
  'y',
  'fill',
  'fill-rule',
  'stroke',
  'stroke-width',
  'stroke-linecap',
  'shape-rendering',
  'transform',
  'role',
  'aria-label',
  'aria-hidden',
  'preserveAspectRatio',
]);
/** Attribute values that could reach out: url(...) references, script-like schemes. */
const SUSPICIOUS_VALUE = /url\s*\(|javascript:|data:|[<>]/i;

/**
 * Why this parsed SVG may not be put in the page, or null when it is only shapes. An allow list:
 * anything not known to be a plain shape or presentation attribute is refused, so <script>,
 * <foreignObject>, <image>, <use href>, <style>, `on*` handlers and links all fail.
 */
export function svgProblem(root: ElementLike, maxElements = 10_000): string | null {
  if (root.localName !== 'svg' || root.namespaceURI !== SVG_NS) {
    return `the root element is <${root.localName}>, not an SVG <svg>`;
  }
  let count = 0;
  const stack: ElementLike[] = [root];
  while (stack.length > 0) {
    const element = stack.pop() as ElementLike;
    if (++count > maxElements) return `it has more than ${maxElements} elements`;
    if (element.namespaceURI !== SVG_NS || !ALLOWED_ELEMENTS.has(element.localName)) {
      return `it contains <${element.localName}>, which a QR code does not need`;
    }
    for (const name of element.getAttributeNames()) {
      if (!ALLOWED_ATTRIBUTES.has(name)) {
        return `<${element.localName}> has the attribute ${name}, which a QR code does not need`;
      }
      if (SUSPICIOUS_VALUE.test(element.getAttribute(name) ?? '')) {
        return `<${element.localName}> has a ${name} that refers elsewhere`;
      }
    }
    for (let i = 0; i < element.children.length; i++) {
      stack.push(element.children[i] as ElementLike);
    }
  }
  return null;
}

/** `class-K7QX2M-results-2026-11-25.csv` */
export function exportFileName(code: string, format: 'csv' | 'json', now: Date): string {
  const safe = code.replace(/[^A-Za-z0-9]/g, '') || 'class';
  return `class-${safe}-results-${now.toISOString().slice(0, 10)}.${format}`;
}

/** The link a student opens (or the QR code holds): the student URL with the code prefilled. */
export function joinLink(studentUrl: string, code: string): string {
  try {
    const url = new URL(studentUrl);
    url.hash = `code=${encodeURIComponent(code)}`;
    return url.href;
  } catch {
    return studentUrl;
  }
}
