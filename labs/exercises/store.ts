/**
 * The browser side of progress: localStorage, shared by every exercise and progress view on the
 * page and kept in step with other tabs. Each change re-reads storage first and changes one
 * exercise, so two tabs answering different exercises do not overwrite each other.
 */
import {
  EMPTY_EXERCISE,
  type ExerciseProgress,
  exerciseProgress,
  loadProgress,
  PROGRESS_EVENT,
  type Progress,
  type ProgressStorage,
  STORAGE_KEY,
  saveProgress,
  withExercise,
} from './progress.ts';
import { newLearnerSeed } from './rng.ts';

/** Where the unreadable record found in storage is moved before it is replaced. */
const DAMAGED_KEY = `${STORAGE_KEY}:unreadable`;

let fallback: ProgressStorage | null = null;

/** Storage that works even where localStorage is disabled (then progress lasts one page). */
function storage(): ProgressStorage {
  try {
    const local = window.localStorage;
    local.getItem(STORAGE_KEY);
    return local;
  } catch {
    if (fallback === null) {
      const memory = new Map<string, string>();
      fallback = {
        getItem: (key) => memory.get(key) ?? null,
        setItem: (key, value) => void memory.set(key, value),
      };
    }
    return fallback;
  }
}

let damagedNote: readonly string[] | null = null;

export function readProgress(): Progress {
  const store = storage();
  const { progress, damaged } = loadProgress(store, newLearnerSeed);
  if (damaged !== null) {
    damagedNote = damaged;
    try {
      const text = store.getItem(STORAGE_KEY);
      if (text !== null) store.setItem(DAMAGED_KEY, text);
    } catch {
      // Nothing more can be done; the note still tells the learner.
    }
  }
  // A new seed must be stored at once, or each exercise on the page would draw its own.
  if (damaged !== null || store.getItem(STORAGE_KEY) === null) {
    saveProgress(store, progress, new Date());
  }
  return progress;
}

/** Problems found in stored progress this page load, if it could not be read. */
export function damagedProgress(): readonly string[] | null {
  return damagedNote;
}

export function readExercise(id: string): ExerciseProgress {
  return exerciseProgress(readProgress(), id);
}

export function updateExercise(
  id: string,
  change: (entry: ExerciseProgress) => ExerciseProgress,
): ExerciseProgress {
  const progress = readProgress();
  const entry = change(progress.exercises[id] ?? EMPTY_EXERCISE);
  const next = withExercise(progress, id, entry);
  saveProgress(storage(), next, new Date());
  announce();
  return entry;
}

export function replaceProgress(progress: Progress): void {
  saveProgress(storage(), progress, new Date());
  announce();
}

function announce(): void {
  window.dispatchEvent(new CustomEvent(PROGRESS_EVENT));
}

/** Calls `listener` after any change here or in another tab; returns the unsubscribe. */
export function onProgressChange(listener: () => void): () => void {
  const onStorage = (event: StorageEvent) => {
    if (event.key === STORAGE_KEY || event.key === null) listener();
  };
  window.addEventListener(PROGRESS_EVENT, listener);
  window.addEventListener('storage', onStorage);
  return () => {
    window.removeEventListener(PROGRESS_EVENT, listener);
    window.removeEventListener('storage', onStorage);
  };
}
