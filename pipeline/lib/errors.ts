/**
 * Exit codes of the command line (SPEC.md) and the exceptions that map to them.
 *
 * A problem an author fixes in `source/` is a message on a file, never an exception; these are for
 * the rest: wrong usage, a missing browser or permission, and failures of the tool itself.
 */

/** Process exit codes, as promised in SPEC.md. */
export const ExitCode = {
  ok: 0,
  sourceErrors: 1,
  usage: 2,
  environment: 3,
  internal: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The command line was used wrongly (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The machine lacks something the build needs: a browser, a tool, permission to write (exit 3). */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

/** The source has errors; they are messages on the source files (exit 1). */
export class SourceErrors extends Error {
  override name = 'SourceErrors';
  constructor(readonly count: number) {
    super(`The source has ${count} ${count === 1 ? 'error' : 'errors'}; nothing was written.`);
  }
}

/** A stage failed; wraps the cause with the stage's name and the document it was working on. */
export class StageError extends Error {
  override name = 'StageError';
  constructor(
    readonly stage: string,
    readonly subject: string | undefined,
    options: { cause: unknown },
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${stage}${subject ? ` (${subject})` : ''}: ${cause}`, options);
  }
}

/** The exit code an error thrown out of a build maps to. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  const root = error instanceof StageError ? error.cause : error;
  if (root instanceof SourceErrors) return ExitCode.sourceErrors;
  if (root instanceof UsageError) return ExitCode.usage;
  if (root instanceof EnvironmentError) return ExitCode.environment;
  return ExitCode.internal;
}
