/**
 * The hostile corpus (`test/security/corpus/`, see its README), built by the real CLI and judged by
 * oracles that do not trust the pipeline:
 *
 * - a canary token, in files outside the source folder, never appears in any artifact (raw bytes,
 *   EPUB entries, PDFs with their streams decompressed, pdftotext's text);
 * - a canary HTTP server on 127.0.0.1 receives no request;
 * - the sentinel file a code payload would create is never created;
 * - the build either renders (exit 0; every artifact inert: no script, handler, frame or style in the
 *   EPUB, no JavaScript, launch or form action in a PDF, only web and e-mail link targets) or exits 1
 *   with a positioned error on the hostile file, leaving the output folder exactly as it was.
 *
 * Inputs are batched: one build renders every `render/` case, one build refuses every `refuse/` case,
 * and only the `alone/` cases get a build each.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../pipeline/lib/project.ts';
import { type CliRun, pdfText, runCli, squash, temporaryFolder } from '../helpers.ts';
import { type Canary, filesLeakingToken, listFiles, startCanary } from './canary.ts';

const corpusDir = path.join(projectRoot, 'test', 'security', 'corpus');
const execFileAsync = promisify(execFile);

/** What a case asks the harness to set up, from its `case.json`. */
interface CaseSetup {
  about: string;
  links?: Record<string, string>;
  fifos?: string[];
  sparse?: Record<string, number>;
  args?: string[];
  exit?: number;
}

interface Case {
  group: 'render' | 'refuse' | 'alone';
  name: string;
  dir: string;
  setup: CaseSetup;
}

/** A reported message, as `--json` gives it. */
interface JsonMessage {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  ruleId: string;
}

async function listCases(group: Case['group']): Promise<Case[]> {
  const names = (await readdir(path.join(corpusDir, group), { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const dir = path.join(corpusDir, group, name);
      const setup = JSON.parse(await readFile(path.join(dir, 'case.json'), 'utf8')) as CaseSetup;
      return { group, name, dir, setup };
    }),
  );
}

const cases = {
  render: await listCases('render'),
  refuse: await listCases('refuse'),
  alone: await listCases('alone'),
};

let folder: { dir: string; remove: () => Promise<void> };
let canary: Canary;

/** Fills a case's placeholders for this run. */
function fill(text: string, caseName: string): string {
  return text
    .replaceAll('@@PORT@@', String(canary.port))
    .replaceAll('@@CANARY_DIR@@', canary.dir)
    .replaceAll('@@SENTINEL@@', canary.sentinel)
    .replaceAll('@@ASSETS@@', `../assets/${caseName}`)
    .replaceAll('@@CASE@@', caseName)
    .replace(/@@REPEAT:(.):(\d+)@@/g, (_whole, character: string, count: string) =>
      character.repeat(Number(count)),
    );
}

/** Writes a case into a source folder: its briefing, its assets, and the links, FIFOs and sparse files it asks for. */
async function placeCase(sourceDir: string, entry: Case): Promise<void> {
  const names = await readdir(entry.dir);
  if (names.includes('briefing.md')) {
    await mkdir(path.join(sourceDir, 'briefings'), { recursive: true });
    const text = await readFile(path.join(entry.dir, 'briefing.md'), 'utf8');
    await writeFile(path.join(sourceDir, 'briefings', `${entry.name}.md`), fill(text, entry.name));
  }
  if (names.includes('assets')) {
    const target = path.join(sourceDir, 'assets', entry.name);
    await cp(path.join(entry.dir, 'assets'), target, { recursive: true });
    for (const file of await listFiles(target)) {
      if (file.endsWith('.svg')) await writeFile(file, fill(await readFile(file, 'utf8'), entry.name));
    }
  }
  const at = (relative: string) => path.join(sourceDir, fill(relative, entry.name));
  for (const [link, target] of Object.entries(entry.setup.links ?? {})) {
    await mkdir(path.dirname(at(link)), { recursive: true });
    await symlink(fill(target, entry.name), at(link));
  }
  for (const fifo of entry.setup.fifos ?? []) {
    await mkdir(path.dirname(at(fifo)), { recursive: true });
    execFileSync('mkfifo', [at(fifo)]);
  }
  for (const [file, size] of Object.entries(entry.setup.sparse ?? {})) {
    await mkdir(path.dirname(at(file)), { recursive: true });
    const handle = await open(at(file), 'w');
    await handle.truncate(size);
    await handle.close();
  }
}

/** Files outside every source folder that hostile links point at, each carrying the token. */
async function writeOutsideFiles(): Promise<void> {
  const briefing = `---\ntitle: Outside ${canary.token}\ndate: 2025-07-13\nsummary: ${canary.token}\n---\n\n${canary.token}\n`;
  await writeFile(path.join(canary.dir, 'outside-briefing.md'), briefing);
  await mkdir(path.join(canary.dir, 'briefings'), { recursive: true });
  await writeFile(path.join(canary.dir, 'briefings', 'leak.md'), briefing);
}

/** Every file under a folder with its digest, to prove a folder did not change. */
async function digestFolder(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const file of await listFiles(dir)) {
    result[path.relative(dir, file)] = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  }
  return result;
}

/** A build of one source folder: the CLI's run, its messages, and the output folder's state before and after. */
interface Build {
  run: CliRun;
  messages: JsonMessage[];
  root: string;
  outDir: string;
  before: Record<string, string>;
}

/** Builds a source folder into an output folder that already holds a previous build's file. */
async function build(root: string, args: string[] = []): Promise<Build> {
  const outDir = path.join(root, 'out');
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'previous-build.txt'), 'a previous build\n');
  const before = await digestFolder(outDir);
  const run = await runCli(['build', '--source', 'source', '--out', 'out', '--json', ...args], { cwd: root });
  let messages: JsonMessage[] = [];
  try {
    messages = (JSON.parse(run.stdout) as { messages: JsonMessage[] }).messages;
  } catch {
    throw new Error(`The build printed no JSON report (exit ${run.code}):\n${run.stderr}`);
  }
  return { run, messages, root, outDir, before };
}

/** `line:column severity rule-id` for the messages of one file, as kept in a case's `messages.txt`. */
function messageLines(messages: JsonMessage[], file?: string): string {
  const lines = messages
    .filter((message) => file === undefined || message.file === file)
    .map(
      (message) =>
        `${file === undefined ? `${message.file}:` : ''}${message.line}:${message.column} ${message.severity} ${message.ruleId}`,
    );
  return `${lines.join('\n')}\n`;
}

/** The oracles every build answers to, whatever it was expected to do. */
async function expectNothingEscaped(result: Build): Promise<void> {
  expect(canary.requests, 'requests to the canary server').toEqual([]);
  await expect(stat(canary.sentinel), 'the sentinel file').rejects.toThrow();
  expect(result.run.stderr, 'escape sequences on the terminal').not.toContain('\u001b');
  expect(await filesLeakingToken(result.outDir, canary.token), 'artifacts holding the token').toEqual([]);
  const siblings = await readdir(result.root);
  expect(
    siblings.filter((name) => name.startsWith('.out.')),
    'staging folders or locks left',
  ).toEqual([]);
}

/** A refused build: exit 1 and the output folder exactly as it was. */
async function expectRefused(result: Build): Promise<void> {
  expect(result.run.code, result.run.stderr).toBe(1);
  expect(await digestFolder(result.outDir)).toEqual(result.before);
  for (const message of result.messages) {
    expect(message.line).toBeGreaterThanOrEqual(1);
    expect(message.column).toBeGreaterThanOrEqual(1);
  }
}

const inertnessChecks = {
  /** Elements that run code, embed documents, style or reach out: none may reach an EPUB document. */
  elements:
    /<(script|style|iframe|frame|frameset|object|embed|applet|form|button|base|noscript|template|svg|math|video|audio|source|picture|portal|textarea|select)[\s>/]/i,
  /** Attributes that run code, style or load something. */
  attributes:
    /\s(on[a-z]+|style|srcset|formaction|action|data|poster|background|dynsrc|lowsrc|xlink:href|ping|http-equiv)\s*=/i,
};

/** Every EPUB document and PDF of a finished build is inert. */
async function expectInertArtifacts(outDir: string): Promise<void> {
  for (const file of await listFiles(outDir)) {
    const relative = path.relative(outDir, file);
    if (file.endsWith('.xhtml')) {
      const text = await readFile(file, 'utf8');
      expect(inertnessChecks.elements.exec(text)?.[0], `${relative}: element`).toBeUndefined();
      // Attributes of tags only: markup shown as text is escaped (`&lt;img onerror=…`) and so is a
      // quote inside an attribute value (`title="x&#x22; onerror=…"`); both are harmless.
      for (const tag of text.match(/<[a-zA-Z][^<>]*>/g) ?? []) {
        for (const [, name = '', value = ''] of tag.matchAll(/\s([^\s=/>]+)\s*=\s*"([^"]*)"/g)) {
          expect(inertnessChecks.attributes.test(` ${name}=`), `${relative}: ${name} in ${tag}`).toBe(false);
          if (name === 'href')
            expect(value, `${relative}: link`).toMatch(
              /^(#|https?:\/\/|mailto:|[a-z0-9-]+\.xhtml(#|$)|styles\/epub\.css$)/,
            );
          if (name === 'src')
            expect(value, `${relative}: image`).toMatch(/^assets\/[0-9a-f]{20}\.(png|jpg|webp|svg)$/);
        }
      }
      for (const meta of text.match(/<meta[^>]*>/g) ?? []) expect(meta).toBe('<meta charset="UTF-8"/>');
      for (const link of text.match(/<link[^>]*>/g) ?? [])
        expect(link).toBe('<link rel="stylesheet" type="text/css" href="styles/epub.css"/>');
    }
    if (file.endsWith('.pdf')) {
      const uncompressed = `${file}.qdf`;
      await execFileAsync('qpdf', [
        '--stream-data=uncompress',
        '--object-streams=disable',
        file,
        uncompressed,
      ]);
      const text = (await readFile(uncompressed)).toString('latin1');
      await rm(uncompressed, { force: true });
      expect(
        /\/(JavaScript|JS|Launch|SubmitForm|ImportData|EmbeddedFile|RichMedia|GoToR)\b/.exec(text)?.[0],
        `${relative}: active PDF feature`,
      ).toBeUndefined();
      for (const [, uri = ''] of text.matchAll(/\/URI\s*\(([^)]*)\)/g))
        expect(uri, `${relative}: link target`).toMatch(/^(https?:\/\/|mailto:)/);
    }
  }
}

beforeAll(async () => {
  folder = await temporaryFolder('briefing-pack-corpus-');
  canary = await startCanary(path.join(folder.dir, 'canary'));
  await writeOutsideFiles();
});
afterAll(async () => {
  await canary?.close();
  await folder?.remove();
});

describe('the hostile corpus', () => {
  it('holds at least 60 inputs', () => {
    // The render batch's pack.yaml is an input too.
    expect(cases.render.length + cases.refuse.length + cases.alone.length + 1).toBeGreaterThanOrEqual(60);
  });
});

describe('inputs that render safely, built together', () => {
  let result: Build;
  beforeAll(async () => {
    const root = path.join(folder.dir, 'render');
    const sourceDir = path.join(root, 'source');
    await mkdir(sourceDir, { recursive: true });
    const pack = await readFile(path.join(corpusDir, 'render-pack.yaml'), 'utf8');
    await writeFile(path.join(sourceDir, 'pack.yaml'), fill(pack, 'pack'));
    for (const entry of cases.render) await placeCase(sourceDir, entry);
    result = await build(root);
  }, 400_000);

  it('builds (exit 0), and nothing reaches the canary, the disk or the terminal', async () => {
    expect(result.run.code, result.run.stderr).toBe(0);
    await expectNothingEscaped(result);
  });

  it('writes only inert artifacts', async () => {
    await expectInertArtifacts(result.outDir);
  });

  it('prints the pack.yaml fields as text and reports nothing on them', async () => {
    expect(result.messages.filter((message) => message.file === 'source/pack.yaml')).toEqual([]);
    const nav = await readFile(path.join(result.outDir, 'epub', 'EPUB', 'index.xhtml'), 'utf8');
    expect(nav).toContain(
      '<title>{{ 7 | times: 7 }} {% include &#34;/etc/passwd&#34; %} &lt;/title&gt;&lt;script&gt;',
    );
  });

  it('prints template syntax from every source field as text, never evaluated', async () => {
    const fields = squash(
      await pdfText(path.join(result.outDir, 'briefings', 'template-injection-front-matter.pdf')),
    );
    expect(fields).toContain('{{ 7 | times: 7 }} {% include "/etc/passwd" %}');
    expect(fields).toContain('{% raw %}{{ body | raw }}{% endraw %}');
    const body = squash(await pdfText(path.join(result.outDir, 'briefings', 'template-injection-body.pdf')));
    expect(body).toContain('{{ 7 | times: 7 }}');
    expect(body).toContain('<%= process.exit(1) %>');
  });

  it.each(cases.render.map((entry) => [entry.name, entry] as const))('%s', async (name, entry) => {
    const file = `source/briefings/${name}.md`;
    expect(
      result.messages.filter((message) => message.file === file && message.severity === 'error'),
    ).toEqual([]);
    await stat(path.join(result.outDir, 'briefings', `${name}.pdf`));
    const xhtml = await readFile(path.join(result.outDir, 'epub', 'EPUB', `b-${name}.xhtml`), 'utf8');
    const body =
      /<div class="briefing-body">([\s\S]*?)<\/div>\s*(?:<section class="sources"|<\/article>)/.exec(
        xhtml,
      )?.[1];
    for (const [, id = ''] of (body ?? '').matchAll(/\sid="([^"]*)"/g)) expect(id).toMatch(`c-${name}-`);
    await expect(messageLines(result.messages, file)).toMatchFileSnapshot(
      path.join(entry.dir, 'messages.txt'),
    );
  });
});

describe('inputs that are refused, built together', () => {
  let result: Build;
  beforeAll(async () => {
    const root = path.join(folder.dir, 'refuse');
    const sourceDir = path.join(root, 'source');
    await mkdir(sourceDir, { recursive: true });
    await writeFile(path.join(sourceDir, 'pack.yaml'), 'title: Refused inputs\ndate: 2025-07-13\n');
    for (const entry of cases.refuse) await placeCase(sourceDir, entry);
    result = await build(root);
  }, 200_000);

  it('exits 1 with positioned errors and leaves the output folder as it was', async () => {
    await expectRefused(result);
    await expectNothingEscaped(result);
  });

  it.each(cases.refuse.map((entry) => [entry.name, entry] as const))('%s', async (name, entry) => {
    const file = `source/briefings/${name}.md`;
    const errors = result.messages.filter((message) => message.file === file && message.severity === 'error');
    expect(errors.length, entry.setup.about).toBeGreaterThan(0);
    await expect(messageLines(result.messages, file)).toMatchFileSnapshot(
      path.join(entry.dir, 'messages.txt'),
    );
  });
});

describe('inputs that need a build of their own', () => {
  it.each(cases.alone.map((entry) => [entry.name, entry] as const))(
    '%s',
    async (name, entry) => {
      const root = path.join(folder.dir, 'alone', name);
      const sourceDir = path.join(root, 'source');
      await mkdir(sourceDir, { recursive: true });
      const names = await readdir(entry.dir);
      const pack = names.includes('pack.yaml')
        ? await readFile(path.join(entry.dir, 'pack.yaml'), 'utf8')
        : 'title: A pack\ndate: 2025-07-13\n';
      await writeFile(path.join(sourceDir, 'pack.yaml'), fill(pack, name));
      if (!names.includes('briefing.md') && !entry.setup.links?.briefings) {
        await mkdir(path.join(sourceDir, 'briefings'), { recursive: true });
        await writeFile(
          path.join(sourceDir, 'briefings', 'plain.md'),
          '---\ntitle: A plain briefing\ndate: 2025-07-13\nsummary: Nothing hostile here.\n---\n\nBody.\n',
        );
      }
      await placeCase(sourceDir, entry);
      const result = await build(root, entry.setup.args ?? []);
      expect(result.run.code, result.run.stderr).toBe(entry.setup.exit ?? 0);
      if (result.run.code === 1) {
        await expectRefused(result);
        expect(result.messages.some((message) => message.severity === 'error')).toBe(true);
      }
      await expectNothingEscaped(result);
      await expect(messageLines(result.messages)).toMatchFileSnapshot(path.join(entry.dir, 'messages.txt'));
    },
    120_000,
  );
});
