/**
 * The build's epoch: the one date written into every artifact. `SOURCE_DATE_EPOCH` when set (see
 * reproducible-builds.org), else midnight UTC of the pack's date — never the wall clock.
 */
import { UsageError } from './errors.ts';

/** Reads `SOURCE_DATE_EPOCH`: undefined when unset, an error (exit 2) when malformed. */
export function sourceDateEpoch(environment: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = environment.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,12}$/.test(raw)) {
    throw new UsageError(
      `SOURCE_DATE_EPOCH is \`${raw}\`, expected a whole number of seconds since 1970-01-01 UTC, like \`1752364800\`.`,
    );
  }
  const seconds = Number(raw);
  if (seconds > 253402300799) throw new UsageError(`SOURCE_DATE_EPOCH is \`${raw}\`, after the year 9999.`);
  return seconds;
}

/** The epoch of a build: `SOURCE_DATE_EPOCH`, else the pack date at midnight UTC. */
export function epochFor(packDate: string | undefined, environment: NodeJS.ProcessEnv = process.env): number {
  const fromEnvironment = sourceDateEpoch(environment);
  if (fromEnvironment !== undefined) return fromEnvironment;
  const parsed = packDate ? Date.parse(`${packDate}T00:00:00Z`) : Number.NaN;
  return Number.isNaN(parsed) ? 0 : Math.floor(parsed / 1000);
}
