/**
 * Builds only the EPUB of a source folder, through the pipeline's own stages (read, validate, convert,
 * templates, package, write): the same code as `npm run build`, without printing any PDF. The EPUB
 * tests run it as a child process (so a time zone and locale can be given to it) for packs whose PDFs
 * other tests already cover.
 *
 *   npx tsx test/support/build-epub.ts SOURCE_DIR OUT_DIR
 */
import { readSource } from '../../pipeline/01-read-source.ts';
import { validateSource } from '../../pipeline/02-validate-source.ts';
import { convertMarkdown } from '../../pipeline/03-convert-markdown.ts';
import { applyTemplates } from '../../pipeline/04-apply-templates.ts';
import { packageEpub } from '../../pipeline/07-package-epub.ts';
import { writeOutput } from '../../pipeline/08-write-output.ts';
import { epochFor } from '../../pipeline/lib/epoch.ts';
import { collectMessages, formatMessages } from '../../pipeline/lib/report.ts';

const [sourceDir, outDir] = process.argv.slice(2);
if (!sourceDir || !outDir) throw new Error('usage: build-epub.ts SOURCE_DIR OUT_DIR');
process.env.TZ = 'UTC';

let files = await readSource({ sourceDir });
const sources = [files.pack, ...files.briefings];
files = await convertMarkdown(await validateSource(files));
const errors = collectMessages(sources).filter((message) => message.severity === 'error');
if (errors.length > 0) {
  process.stderr.write(`${formatMessages(errors).join('\n')}\n`);
  process.exit(1);
}
const epochSeconds = epochFor(files.pack.data.pack?.date);
files = await packageEpub(await applyTemplates(files), { epochSeconds });
await writeOutput(files, { outDir, epochSeconds, browserVersion: 'none (EPUB only)' });
