/**
 * The lab server runs in the test's own process, so an error it fails to handle surfaces here as
 * an uncaught exception; in `pnpm lab` the same error would end the process.
 */
export class CrashWatch {
  readonly errors: unknown[] = [];
  readonly #record = (error: unknown) => {
    this.errors.push(error);
  };

  constructor() {
    process.on('uncaughtException', this.#record);
    process.on('unhandledRejection', this.#record);
  }

  /** What crashed, as messages, for a readable assertion. */
  get messages(): string[] {
    return this.errors.map((error) => (error instanceof Error ? error.message : String(error)));
  }

  stop(): void {
    process.off('uncaughtException', this.#record);
    process.off('unhandledRejection', this.#record);
  }
}
