import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import sirv from 'sirv';

/** Serves the built site from `dist/`, with the site's own 404 page for unknown paths. */
export function staticSite(dist: string): (req: IncomingMessage, res: ServerResponse) => void {
  let notFound: Buffer | undefined;
  return sirv(dist, {
    etag: true,
    setHeaders: (res) => res.setHeader('X-Content-Type-Options', 'nosniff'),
    onNoMatch: (_req, res) => {
      notFound ??= readFileSync(join(dist, '404.html'));
      res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(notFound);
    },
  });
}
