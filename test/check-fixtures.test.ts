/**
 * The broken-input fixtures of `npm run check`: each folder of `test/fixtures/validation/` holds a
 * `source/` and the reporter lines expected for it in `messages.txt`, paths relative to the folder.
 * The check runs on a copy of the folder (so files made at test time never touch the fixture), through
 * the code path of `npm run check`: `runBuild` in check mode, then the reporter's lines.
 *
 * `messages.txt` changes only with the update flag, and the diff is reviewed:
 *
 *   UPDATE_FIXTURES=1 npx vitest run test/check-fixtures.test.ts
 *
 * An optional `case.json` describes the case and lists `sparseFiles` (path → size in bytes) made at
 * test time: files too large to keep in the repository, for the size caps.
 */
import { cp, open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuild } from '../pipeline/build.ts';
import { ExitCode } from '../pipeline/lib/errors.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { collectMessages, formatMessages } from '../pipeline/lib/report.ts';
import { temporaryFolder } from './helpers.ts';

const casesDir = path.join(projectRoot, 'test', 'fixtures', 'validation');
const update = process.env.UPDATE_FIXTURES === '1';
const cases = (await readdir(casesDir, { withFileTypes: true }))
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface CaseSettings {
  description?: string;
  sparseFiles?: Record<string, number>;
}

let folder: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  folder = await temporaryFolder('briefing-pack-fixtures-');
});
afterAll(async () => {
  await folder.remove();
});

async function settingsOf(caseDir: string): Promise<CaseSettings> {
  const text = await readFile(path.join(caseDir, 'case.json'), 'utf8').catch(() => undefined);
  return text === undefined ? {} : (JSON.parse(text) as CaseSettings);
}

/** Runs `check` on a copy of a case; returns the reporter lines and the exit code. */
async function checkCase(name: string): Promise<{ text: string; exitCode: number }> {
  const caseDir = path.join(casesDir, name);
  const workDir = path.join(folder.dir, name);
  await cp(caseDir, workDir, { recursive: true, verbatimSymlinks: true });
  for (const [file, size] of Object.entries((await settingsOf(caseDir)).sparseFiles ?? {})) {
    const handle = await open(path.join(workDir, file), 'w');
    await handle.truncate(size);
    await handle.close();
  }
  const result = await runBuild({
    sourceDir: path.join(workDir, 'source'),
    outDir: path.join(workDir, 'out'),
    mode: 'check',
  });
  if (result.failure) throw result.failure;
  const lines = formatMessages(collectMessages(result.sources, workDir));
  return { text: lines.map((line) => `${line}\n`).join(''), exitCode: result.exitCode };
}

/** Rule ids the fixtures cannot show: reported by `build` only, or not reachable from a source. */
// Reported by `build` only (brief-overflow, blocked-request, remote-image-fetch), unreachable from
// Markdown (image-path, schema), or needing seconds of parsing to show (markdown-too-complex, covered by
// test/parse-markdown.test.ts).
const notInFixtures = new Set([
  'brief-overflow',
  'blocked-request',
  'remote-image-fetch',
  'image-path',
  'schema',
  'markdown-too-complex',
]);

/** The README's table of rule ids: id → severity. */
async function readmeRuleIds(): Promise<Map<string, string>> {
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Rule ids'));
  return new Map(
    [...section.matchAll(/^\| `([a-z-]+)` \| (error|warning) \|/gm)].map((match) => [
      match[1] ?? '',
      match[2] ?? '',
    ]),
  );
}

/** Every rule id the pipeline's code can report (string literals given as `ruleId`). */
async function codeRuleIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  const pipelineDir = path.join(projectRoot, 'pipeline');
  for (const name of await readdir(pipelineDir, { recursive: true })) {
    if (!name.endsWith('.ts')) continue;
    const text = await readFile(path.join(pipelineDir, name), 'utf8');
    for (const match of text.matchAll(/ruleId:\s*([^,}\n]+)/g)) {
      // Not a value compared with (`kind === 'web'`) or a fallback for a message without one (`?? 'unknown'`).
      for (const literal of (match[1] ?? '').matchAll(/(?<!=== |\?\? )'([a-z]+(?:-[a-z]+)*)'/g)) {
        ids.add(literal[1] ?? '');
      }
    }
  }
  return ids;
}

describe('rule ids', () => {
  it('are all listed in the README, and every one the check can report has a fixture, with its severity', async () => {
    const listed = await readmeRuleIds();
    expect([...(await codeRuleIds())].sort()).toEqual([...listed.keys()].sort());
    const shown = new Map<string, string>();
    for (const name of cases) {
      const text = await readFile(path.join(casesDir, name, 'messages.txt'), 'utf8');
      for (const match of text.matchAll(/^\S+\s+(error|warning)\s.*\s([a-z]+(?:-[a-z]+)*)$/gm)) {
        shown.set(match[2] ?? '', match[1] ?? '');
      }
    }
    for (const [ruleId, severity] of listed) {
      if (notInFixtures.has(ruleId)) continue;
      expect(shown.get(ruleId), ruleId).toBe(severity);
    }
  });
});

describe('npm run check on broken sources', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  for (const name of cases) {
    it(`reports exactly the expected lines for ${name}`, async () => {
      const { text, exitCode } = await checkCase(name);
      const expectedFile = path.join(casesDir, name, 'messages.txt');
      if (update) await writeFile(expectedFile, text);
      const expected = await readFile(expectedFile, 'utf8').catch(() => {
        throw new Error(`${name} has no messages.txt; run with UPDATE_FIXTURES=1 and review it`);
      });
      expect(text).toBe(expected);
      const hasErrors = text.split('\n').some((line) => /^\S+\s+error\s/.test(line));
      expect(exitCode).toBe(hasErrors ? ExitCode.sourceErrors : ExitCode.ok);
    });
  }
});
