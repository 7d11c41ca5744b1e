/**
 * Progress views: one chapter's exercises with their status (`mountChapterProgress`), and the
 * whole course with export to and import from a file (`mountCourseProgress`). They redraw when
 * an exercise on the page, an import or another tab changes progress.
 */
import { h } from '../shared/dom.ts';
import {
  type ChapterSummary,
  chapterSummary,
  courseSummary,
  exportFileName,
  parseProgressFile,
  STATUS_TEXT,
  toFile,
} from './progress.ts';
import { allExercises } from './registry.ts';
import { damagedProgress, onProgressChange, readProgress, replaceProgress } from './store.ts';
import { CHAPTERS, type ChapterId } from './types.ts';

export interface Mounted {
  dispose(): void;
}

/** Chapter titles by id, from the site's content (the component passes them in). */
export type ChapterTitles = Readonly<Partial<Record<ChapterId, string>>>;

export function isChapterId(value: string): value is ChapterId {
  return (CHAPTERS as readonly string[]).includes(value);
}

function summaryList(summary: ChapterSummary, linkToChapter: boolean): HTMLElement {
  return h(
    'ul',
    { class: 'exp-items' },
    ...summary.items.map((item) =>
      h(
        'li',
        { class: 'exp-item', 'data-status': item.status },
        h(
          'a',
          { href: `${linkToChapter ? `/${summary.chapter}/` : ''}#exercise-${item.id}` },
          item.title,
        ),
        h(
          'span',
          { class: 'exp-status' },
          STATUS_TEXT[item.status],
          item.status !== 'solved' && item.tries > 0
            ? `, ${item.tries} wrong ${item.tries === 1 ? 'try' : 'tries'}`
            : '',
        ),
      ),
    ),
  );
}

function meter(summary: ChapterSummary, label: string): HTMLElement {
  const bar = h('progress', {
    class: 'exp-meter',
    max: summary.total,
    value: summary.solved,
    'aria-label': label,
  });
  return h('p', { class: 'exp-count' }, bar, ` ${summary.solved} of ${summary.total} solved`);
}

export function mountChapterProgress(element: HTMLElement, chapter: ChapterId): Mounted {
  element.classList.add('exp');
  const draw = () => {
    const summary = chapterSummary(readProgress(), chapter, allExercises());
    if (summary.total === 0) {
      element.replaceChildren(h('p', {}, 'This chapter has no exercises yet.'));
      return;
    }
    element.replaceChildren(
      meter(summary, 'Exercises solved in this chapter'),
      summaryList(summary, false),
      h(
        'p',
        { class: 'exp-note' },
        'Progress is kept in this browser only. ',
        h('a', { href: '/progress/' }, 'All chapters, export and import'),
        '.',
      ),
    );
  };
  draw();
  const unsubscribe = onProgressChange(draw);
  return {
    dispose() {
      unsubscribe();
      element.replaceChildren();
    },
  };
}

export function mountCourseProgress(element: HTMLElement, titles: ChapterTitles): Mounted {
  element.classList.add('exp');
  const chapters = h('div', { class: 'exp-chapters' });
  const message = h('div', { class: 'exp-message', role: 'status', 'aria-live': 'polite' });

  const exportButton = h('button', { type: 'button', class: 'ex-button' }, 'Export progress');
  exportButton.addEventListener('click', () => {
    const now = new Date();
    const blob = new Blob([`${JSON.stringify(toFile(readProgress(), now), null, 2)}\n`], {
      type: 'application/json',
    });
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: exportFileName(now) });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    message.dataset.kind = 'ok';
    message.replaceChildren(
      h('p', {}, `Saved ${exportFileName(now)}. Import it here or in another browser to carry on.`),
    );
  });

  const fileId = 'exp-import-file';
  const file = h('input', { type: 'file', id: fileId, accept: 'application/json,.json' });
  file.addEventListener('change', () => {
    const chosen = file.files?.[0];
    if (chosen === undefined) return;
    void importFile(chosen).finally(() => {
      file.value = '';
    });
  });

  const importFile = async (chosen: File) => {
    if (chosen.size > 1_000_000) {
      return showErrors(chosen.name, [
        `The file is ${chosen.size.toLocaleString('en')} bytes; a progress file is a few kilobytes.`,
      ]);
    }
    let text: string;
    try {
      text = await chosen.text();
    } catch (error) {
      return showErrors(chosen.name, [`It could not be read: ${String(error)}.`]);
    }
    const parsed = parseProgressFile(text, new Set(allExercises().map((e) => e.id)));
    if (!parsed.ok) return showErrors(chosen.name, parsed.errors);
    replaceProgress(parsed.progress);
    const solved = Object.values(parsed.progress.exercises).filter((e) => e.solved).length;
    message.dataset.kind = 'ok';
    message.replaceChildren(
      h(
        'p',
        {},
        `Imported ${chosen.name}: ${Object.keys(parsed.progress.exercises).length} exercises, ${solved} solved. It replaced the progress that was in this browser, and your values now come from its seed.`,
      ),
      ...parsed.notes.map((note) => h('p', {}, note)),
    );
  };

  const showErrors = (name: string, errors: readonly string[]) => {
    message.dataset.kind = 'error';
    message.replaceChildren(
      h('p', {}, `${name} was not imported; your progress is unchanged. What is wrong with it:`),
      h('ul', {}, ...errors.map((error) => h('li', {}, error))),
    );
  };

  const draw = () => {
    const summaries = courseSummary(readProgress(), allExercises());
    const total = summaries.reduce((sum, s) => sum + s.total, 0);
    const solved = summaries.reduce((sum, s) => sum + s.solved, 0);
    chapters.replaceChildren(
      h('p', { class: 'exp-total' }, `${solved} of ${total} exercises solved.`),
      ...summaries.map((summary) => {
        const title = titles[summary.chapter] ?? summary.chapter;
        const headingId = `exp-${summary.chapter}`;
        return h(
          'section',
          { class: 'exp-chapter', 'aria-labelledby': headingId },
          h('h2', { id: headingId }, h('a', { href: `/${summary.chapter}/` }, title)),
          meter(summary, `Exercises solved in ${title}`),
          summaryList(summary, true),
        );
      }),
    );
  };

  readProgress(); // notices damaged storage, so the note below can say what was wrong
  const damaged = damagedProgress();
  if (damaged !== null) {
    message.dataset.kind = 'error';
    message.replaceChildren(
      h(
        'p',
        {},
        'The progress stored in this browser could not be read, so it starts afresh (the old record is kept under another key). What was wrong:',
      ),
      h('ul', {}, ...damaged.map((error) => h('li', {}, error))),
    );
  }

  element.replaceChildren(
    chapters,
    h(
      'section',
      { class: 'exp-files', 'aria-labelledby': 'exp-files-title' },
      h('h2', { id: 'exp-files-title' }, 'Keep or move your progress'),
      h(
        'p',
        {},
        'Progress lives in this browser (localStorage). Export it to a file to keep it or to carry on in another browser; importing a file replaces what is here.',
      ),
      h(
        'div',
        { class: 'ex-actions' },
        exportButton,
        h('label', { for: fileId, class: 'exp-import-label' }, 'Import progress from a file'),
        file,
      ),
      message,
    ),
  );
  draw();
  const unsubscribe = onProgressChange(draw);
  return {
    dispose() {
      unsubscribe();
      element.replaceChildren();
    },
  };
}
