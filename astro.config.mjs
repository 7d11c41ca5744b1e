// @ts-check
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';

export default defineConfig({
  srcDir: './site',
  // Static files (the favicon) live with the rest of the site, not in a top-level public/.
  publicDir: './site/public',
  integrations: [
    starlight({
      title: 'WebSocket Lab',
      description: 'How WebSockets really work, byte by byte.',
      // One entry per chapter folder in content/, in course order; labels come from each
      // chapter's `sidebar.label` frontmatter. (Autogenerating from the root lists nothing.)
      sidebar: [
        {
          label: 'Chapters',
          items: [
            { slug: 'big-picture' },
            { slug: 'connection-path' },
            { slug: 'handshake' },
            { slug: 'accept' },
            { slug: 'frames' },
            { slug: 'messages' },
            { slug: 'closing' },
            { slug: 'console' },
            { slug: 'architecture' },
            { slug: 'proxies' },
            { slug: 'security' },
            { slug: 'beyond-http1' },
            { slug: 'build-your-own' },
          ],
        },
        {
          label: 'Your progress',
          items: [{ slug: 'progress' }, { label: 'Join a class', link: '/classroom/' }],
        },
      ],
    }),
  ],
});
