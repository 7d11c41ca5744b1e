import { launchChromium } from '../e2e/browser.ts';
import { serveDist } from '../e2e/serve.ts';

const server = await serveDist();
const browser = await launchChromium();
const ctx = await browser.newContext({
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
});
const page = await ctx.newPage();
for (const p of ['/beyond-http1/']) {
  await page.goto(`${server.url}${p}`);
  const wide = await page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll('main *'))) {
      if (el.closest('pre, .expressive-code, .diagram-scroll, .h2-trace')) continue;
      const r = el.getBoundingClientRect();
      if (r.right > 392 && r.width > 0)
        out.push(
          `${el.tagName}.${(el as HTMLElement).className} right=${Math.round(r.right)} w=${Math.round(r.width)}`,
        );
    }
    return out.slice(0, 15);
  });
  console.log(p, await page.evaluate(() => document.documentElement.scrollWidth), wide.join('\n'));
}
await browser.close();
await server.close();
