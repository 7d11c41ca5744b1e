import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the built site is made from; a change to any of these makes dist/ stale. */
const SOURCES = ['content', 'site', 'labs', 'protocol', 'astro.config.mjs', 'package.json'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** True when `dist/` is missing or older than any source it is built from. */
export function siteIsStale(root: string): boolean {
  const marker = join(root, 'dist', 'index.html');
  if (!existsSync(marker)) return true;
  const built = statSync(marker).mtimeMs;
  return SOURCES.some((source) => newestMtime(join(root, source)) > built);
}

/** Runs `astro build` in `root`, its output passed through so the user sees progress. */
export function buildSite(root: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const astro = join(root, 'node_modules', 'astro', 'astro.js');
    // Astro's output goes to stderr, so stdout stays pure NDJSON under --json.
    const child = spawn(process.execPath, [astro, 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`astro build failed (exit code ${code}); its output is above.`));
    });
  });
}
