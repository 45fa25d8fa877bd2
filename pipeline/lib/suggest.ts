/** "Did you mean" suggestions for misspelt keys, ids and values. */

/**
 * Edit distance between two strings, compared case-insensitively: insertions, deletions, substitutions
 * and swaps of two neighbouring letters (`titel` → `title`) each count one (optimal string alignment).
 */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i++) {
    const current = [i];
    for (let j = 1; j <= right.length; j++) {
      const cost = left[i - 1] === right[j - 1] ? 0 : 1;
      let distance = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && left[i - 1] === right[j - 2] && left[i - 2] === right[j - 1]) {
        distance = Math.min(distance, (beforePrevious[j - 2] ?? 0) + 1);
      }
      current[j] = distance;
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[right.length] ?? 0;
}

/** The candidate closest to `value`, if it is close enough to be what the author meant. */
export function closest(value: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(value, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(value.length, best.length) / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** `; did you mean \`x\`?` when a close candidate exists, else the empty string. */
export function didYouMean(value: string, candidates: Iterable<string>): string {
  const suggestion = closest(value, candidates);
  return suggestion === undefined ? '' : `; did you mean \`${suggestion}\`?`;
}

/** Formats values as an English list of code spans: `a`, `b` or `c`. */
export function listOf(values: readonly string[], conjunction = 'or'): string {
  const spans = values.map((value) => `\`${value}\``);
  if (spans.length <= 1) return spans.join('');
  return `${spans.slice(0, -1).join(', ')} ${conjunction} ${spans.at(-1)}`;
}
