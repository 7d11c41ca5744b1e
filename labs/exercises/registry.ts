/**
 * Every exercise on the site, by id. Each chapter keeps its exercises in
 * `labs/exercises/chapters/<chapter>.ts`; this file only gathers them, so the browser view and the
 * classroom server look exercises up in one place.
 */
import { acceptExercises } from './chapters/accept.ts';
import { architectureExercises } from './chapters/architecture.ts';
import { beyondHttp1Exercises } from './chapters/beyond-http1.ts';
import { bigPictureExercises } from './chapters/big-picture.ts';
import { closingExercises } from './chapters/closing.ts';
import { connectionPathExercises } from './chapters/connection-path.ts';
import { framesExercises } from './chapters/frames.ts';
import { handshakeExercises } from './chapters/handshake.ts';
import { messagesExercises } from './chapters/messages.ts';
import { proxiesExercises } from './chapters/proxies.ts';
import { securityExercises } from './chapters/security.ts';
import type { ChapterId, Exercise } from './types.ts';

// In course order, so progress views list exercises as the chapters do.
const ALL: readonly Exercise[] = [
  ...bigPictureExercises,
  ...connectionPathExercises,
  ...handshakeExercises,
  ...acceptExercises,
  ...framesExercises,
  ...messagesExercises,
  ...closingExercises,
  ...architectureExercises,
  ...proxiesExercises,
  ...securityExercises,
  ...beyondHttp1Exercises,
];

const BY_ID = new Map<string, Exercise>();
for (const exercise of ALL) {
  if (BY_ID.has(exercise.id)) throw new Error(`two exercises share the id ${exercise.id}`);
  BY_ID.set(exercise.id, exercise);
}

export function exerciseById(id: string): Exercise | undefined {
  return BY_ID.get(id);
}

export function exercisesOf(chapter: ChapterId): readonly Exercise[] {
  return ALL.filter((exercise) => exercise.chapter === chapter);
}

export function allExercises(): readonly Exercise[] {
  return ALL;
}
