// @ts-check
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';

export default defineConfig({
  srcDir: './site',
  integrations: [
    starlight({
      title: 'WebSocket Lab',
      description: 'How WebSockets really work, byte by byte.',
      sidebar: [{ label: 'Chapters', autogenerate: { directory: '.' } }],
    }),
  ],
});
