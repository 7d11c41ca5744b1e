/**
 * In classroom mode the lab server checks live exercises from the student's own /echo
 * connections, which it recognises by a tag in the request target (`/echo?tag=<liveTag>`): the
 * browser's WebSocket API cannot add a header, but it can choose the URL. The tag comes from the
 * server when the student joins (labs/classroom/student.ts keeps it here); outside a class
 * nothing is added. Tiny on purpose: every lab that opens /echo imports it.
 */

/** localStorage: the joined student's display data and live tag (never the token). */
export const CLASS_SESSION_KEY = 'websocket-lab:classroom:session';

const TAG = /^[A-Za-z0-9_-]{1,64}$/;

/** The live tag of the class this browser joined, or null outside a class. */
export function classLiveTag(): string | null {
  try {
    const text = globalThis.localStorage?.getItem(CLASS_SESSION_KEY);
    if (text === null || text === undefined) return null;
    const tag = (JSON.parse(text) as { liveTag?: unknown } | null)?.liveTag;
    return typeof tag === 'string' && TAG.test(tag) ? tag : null;
  } catch {
    return null;
  }
}

/**
 * In a class: `/echo?console=x` → `/echo?console=x&tag=T`, so the server knows the connection
 * is this student's; `/observe?id=3` → `/observe?id=3&tag=T`, because in a class /observe shows
 * a student only their own tagged connections. Other paths, and every path outside a class,
 * are unchanged.
 */
export function withClassTag(path: string, tag: string | null = classLiveTag()): string {
  if (tag === null) return path;
  const url = new URL(path, 'http://lab.invalid');
  if (url.pathname !== '/echo' && url.pathname !== '/observe') return path;
  url.searchParams.set('tag', tag);
  return `${url.pathname}${url.search}${url.hash}`;
}
