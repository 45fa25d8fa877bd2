/** The Markdown the benchmarks write into `bench/RESULTS.md`. */

/** A Markdown table with its columns padded, as Biome formats Markdown tables. */
export function markdownTable(header: string[], rows: string[][], rightAligned: boolean[]): string[] {
  const widths = header.map((cell, column) =>
    Math.max(3, cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, column) =>
        rightAligned[column] ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join(' | ')} |`;
  const rule = `| ${widths.map((width, column) => (rightAligned[column] ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)];
}

/**
 * Puts `section` (which starts with its own `## heading` line) in place of the section of that heading
 * in `text`, up to the next `## ` heading; appends it when `text` has no such section.
 */
export function replaceSection(text: string, section: string): string {
  const heading = section.split('\n', 1)[0] ?? '';
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  const body = section.trimEnd().split('\n');
  if (start === -1) return `${text.trimEnd()}\n\n${body.join('\n')}\n`;
  let end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  if (end === -1) end = lines.length;
  const after = lines.slice(end);
  return [...lines.slice(0, start), ...body, ...(after.length > 0 ? ['', ...after] : [''])].join('\n');
}
