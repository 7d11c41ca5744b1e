import { defineCollection } from 'astro:content';
import { docsSchema } from '@astrojs/starlight/schema';
import { glob } from 'astro/loaders';

// Chapters live in the top-level content/ folder, not under site/, so that prose and code
// stay apart (see README, "How the folders fit together").
export const collections = {
  docs: defineCollection({
    loader: glob({ pattern: '**/*.{md,mdx}', base: './content' }),
    schema: docsSchema(),
  }),
};
