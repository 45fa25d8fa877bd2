/**
 * The one reporter: turns the messages on the source files and the outcome of a build into the lines
 * SPEC.md promises (`path:line:col  severity  message  rule-id`), or into the JSON report for CI.
 */
import path from 'node:path';
import type { VFile } from 'vfile';
import type { BuildResult } from '../build.ts';
import { ExitCode } from './errors.ts';

/** A message as reported: position 1-based, path relative to the working directory. */
export interface ReportedMessage {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
  ruleId: string;
}

/** Every message of the files, sorted by file, line and column. */
export function collectMessages(files: readonly VFile[], cwd = process.cwd()): ReportedMessage[] {
  const messages: ReportedMessage[] = [];
  for (const file of files) {
    const shown = path.relative(cwd, file.path) || file.path;
    for (const message of file.messages) {
      messages.push({
        file: shown.split(path.sep).join('/'),
        line: message.line ?? 1,
        column: message.column ?? 1,
        severity: message.fatal === true ? 'error' : 'warning',
        message: message.reason,
        ruleId: message.ruleId ?? 'unknown',
      });
    }
  }
  return messages.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      a.ruleId.localeCompare(b.ruleId),
  );
}

/**
 * Makes control characters visible (`\u001B`), so a value quoted from an untrusted source cannot
 * send escape sequences to the terminal or the CI log (set the title, hide lines, fake output).
 */
export function visibleControls(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: neutralising control characters is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (character) =>
    character === '\n'
      ? ' '
      : `\\u${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

/** The message lines, with the positions padded so the messages line up. */
export function formatMessages(messages: readonly ReportedMessage[]): string[] {
  const places = messages.map((message) => `${message.file}:${message.line}:${message.column}`);
  const width = Math.max(0, ...places.map((place) => place.length));
  const severityWidth = messages.some((message) => message.severity === 'warning') ? 7 : 5;
  return messages.map(
    (message, index) =>
      `${(places[index] ?? '').padEnd(width)}  ${message.severity.padEnd(severityWidth)}  ${visibleControls(message.message)}  ${message.ruleId}`,
  );
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function describeFailure(failure: unknown): string {
  if (!(failure instanceof Error)) return String(failure);
  const lines = [failure.message];
  let cause = failure.cause;
  while (cause instanceof Error && !failure.message.includes(cause.message)) {
    lines.push(`  caused by: ${cause.message}`);
    cause = cause.cause;
  }
  return lines.join('\n');
}

/** Briefings in the pack: those `briefings` lists, not every file read (an unlisted one is left out). */
function briefingsInPack(result: BuildResult): number {
  return result.sources[0]?.data.pack?.briefingIds.length ?? result.sources.length - 1;
}

/** The human report of a build, for the terminal (stderr). */
export function formatHumanReport(
  result: BuildResult,
  mode: 'build' | 'check',
  options: { quiet: boolean },
): string[] {
  const messages = collectMessages(result.sources);
  const shown = options.quiet ? messages.filter((message) => message.severity === 'error') : messages;
  const lines = formatMessages(shown);
  const errors = messages.filter((message) => message.severity === 'error').length;
  const warnings = messages.length - errors;
  if (result.exitCode === ExitCode.sourceErrors) {
    lines.push(
      `${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}; ${mode === 'build' ? 'nothing was written' : 'the source is not valid'}.`,
    );
  } else if (result.exitCode !== ExitCode.ok) {
    lines.push(...describeFailure(result.failure).split('\n').map(visibleControls));
  } else if (!options.quiet) {
    const total = Object.values(result.timings).reduce((sum, value) => sum + value, 0);
    if (mode === 'check') {
      lines.push(
        `Source is valid: ${plural(briefingsInPack(result), 'briefing')}${warnings ? `, ${plural(warnings, 'warning')}` : ''} (${total} ms).`,
      );
    } else {
      const artifacts = result.manifest?.artifacts ?? [];
      const where = path.relative(process.cwd(), result.outDir) || '.';
      if (result.cache?.upToDate) {
        lines.push(
          `Up to date: nothing changed since the last build; the ${plural(artifacts.length, 'artifact')} in ${where}/ are as they were (${total} ms).`,
        );
        return lines;
      }
      lines.push(
        `Built ${plural(artifacts.length, 'artifact')} in ${where}/ in ${(total / 1000).toFixed(1)} s${warnings ? ` (${plural(warnings, 'warning')})` : ''}${result.cache?.reused ? `; ${result.cache.reused} of ${result.cache.reused + result.cache.printed} PDFs unchanged, from the build cache` : ''}:`,
      );
      for (const artifact of artifacts) {
        lines.push(
          `  ${artifact.path}${artifact.pages !== undefined ? `  ${plural(artifact.pages, 'page')}` : ''}`,
        );
      }
    }
  }
  return lines;
}

/** The JSON report of a build, for CI (stdout). */
export function jsonReport(result: BuildResult, mode: 'build' | 'check'): Record<string, unknown> {
  return {
    command: mode,
    ok: result.exitCode === ExitCode.ok,
    exitCode: result.exitCode,
    outDir: result.outDir,
    messages: collectMessages(result.sources),
    timings: result.timings,
    ...(result.cache ? { cache: result.cache } : {}),
    ...(result.manifest ? { manifest: result.manifest } : {}),
    ...(result.failure ? { failure: describeFailure(result.failure) } : {}),
  };
}
