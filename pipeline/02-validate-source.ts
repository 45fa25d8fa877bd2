/**
 * Stage 2: validate the structured source — `pack.yaml` and each briefing's front matter — against the
 * JSON Schemas, then across files (ids, order, markings). Every problem is reported at once, at its
 * line and column; the validated model is attached to the files for the stages after.
 */
import path from 'node:path';
import type { VFile } from 'vfile';
import { splitFrontMatter } from './lib/front-matter.ts';
import type { Memo } from './lib/memo.ts';
import { error, warning } from './lib/messages.ts';
import type { BriefingMeta, BuildFiles, Pack, Paper, Source } from './lib/model.ts';
import { checkAgainstSchema } from './lib/schema-check.ts';
import { didYouMean, listOf } from './lib/suggest.ts';
import { parseYamlSource, rangeOf, resolvePath, type YamlSource } from './lib/yaml-source.ts';

/** At most this many control characters are reported per file. */
const maxControlCharacterReports = 10;

const idPattern = /^[a-z0-9][a-z0-9-]{0,63}$/;

type Raw = Record<string, unknown>;

interface CheckedBriefing {
  file: VFile;
  /** The parsed header, to place messages in (parsed when first asked for, for a remembered header). */
  readonly source: YamlSource | undefined;
  meta: BriefingMeta | undefined;
}

/** A briefing header that passed validation without a message, as the headers memo keeps it. */
export interface RememberedHeader {
  meta: BriefingMeta;
}

/** Options of {@link validateSource}. */
export interface ValidateOptions {
  /** Headers validated by earlier builds (`memo.ts`): a header found there is not parsed again. */
  headers?: Memo<RememberedHeader> | undefined;
}

/**
 * Validates the pack and every briefing; attaches `pack`, `briefing` and `bodyStart` data to the files.
 * Checks across files use what could be read even when a file has other errors, so one run reports
 * as much as it can.
 */
export async function validateSource(files: BuildFiles, options: ValidateOptions = {}): Promise<BuildFiles> {
  const packCheck = checkPackFile(files.pack);
  const packSource = packCheck?.source;
  const checked = files.briefings.map((file) =>
    checkBriefingFile(file, options.headers, path.relative(files.sourceDir, file.path)),
  );
  reportDuplicateIds(checked);

  const rawPack = packSource?.value as Raw | undefined;
  const byId = new Map<string, CheckedBriefing>();
  for (const entry of checked) if (entry.meta) byId.set(entry.meta.id, entry);

  const briefingIds = resolveOrder(files.pack, packSource, rawPack, checked, byId);
  if (packSource && files.briefings.length === 0) {
    error(files.pack, 'Unexpected pack without briefings, expected at least one `.md` file in `briefings/`', {
      ruleId: 'no-briefings',
    });
  }
  const briefIds = resolveBriefIds(files.pack, packSource, rawPack, briefingIds, byId);
  if (rawPack && packSource && packCheck?.valid) {
    const pack = toPack(rawPack, briefingIds, briefIds);
    checkMarkings(files.pack, packSource, pack, checked);
    files.pack.data.pack = pack;
  }

  const ordered = briefingIds.flatMap((id) => {
    const entry = byId.get(id);
    return entry ? [entry.file] : [];
  });
  return { ...files, briefings: ordered.length > 0 ? ordered : files.briefings };
}

/** `pack.yaml` parsed (or not), and whether it matches its schema. */
interface PackCheck {
  source: YamlSource;
  valid: boolean;
}

function checkPackFile(file: VFile): PackCheck | undefined {
  if (file.messages.length > 0) return undefined;
  const text = String(file.value);
  reportControlCharacters(file, text);
  const source = parseYamlSource(file, text, 1);
  if (!source) return undefined;
  return { source, valid: checkAgainstSchema(file, source, 'pack', text) };
}

function checkBriefingFile(
  file: VFile,
  headers: Memo<RememberedHeader> | undefined,
  relativePath: string,
): CheckedBriefing {
  if (file.messages.length > 0) return { file, source: undefined, meta: undefined };
  const text = String(file.value);
  reportControlCharacters(file, text);
  const split = splitFrontMatter(file, text);
  if (!split) return { file, source: undefined, meta: undefined };
  file.data.bodyStart = { line: split.bodyLine, offset: split.bodyOffset };

  // The header as validated before: its meta is taken as it was, and the YAML parsed only if a check
  // across files has a message to place in it (parsing it again raises none: it raised none then).
  const key =
    file.messages.length === 0 ? headers?.key(relativePath, String(split.yamlLine), split.yaml) : undefined;
  const remembered = key === undefined ? undefined : headers?.get(key);
  if (remembered) {
    file.data.briefing = remembered.meta;
    let parsed: YamlSource | undefined;
    return {
      file,
      get source() {
        parsed ??= parseYamlSource(file, split.yaml, split.yamlLine);
        return parsed;
      },
      meta: remembered.meta,
    };
  }
  const checked = checkBriefingHeader(file, text, split);
  if (key !== undefined && checked.meta && file.messages.length === 0)
    headers?.set(key, { meta: checked.meta });
  return checked;
}

/** Parses and checks a briefing's header (its front matter, split from `text`). */
function checkBriefingHeader(
  file: VFile,
  text: string,
  split: NonNullable<ReturnType<typeof splitFrontMatter>>,
): CheckedBriefing {
  const source = parseYamlSource(file, split.yaml, split.yamlLine);
  if (!source) return { file, source, meta: undefined };
  if (!checkAgainstSchema(file, source, 'briefing', text)) return { file, source, meta: undefined };

  const raw = source.value as Raw;
  const id = typeof raw.id === 'string' ? raw.id : path.basename(file.path, '.md');
  if (!idPattern.test(id)) {
    const suggestion = id
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '');
    error(
      file,
      `Unexpected file name \`${path.basename(file.path)}\` for a briefing id, expected lower-case letters, digits and hyphens; rename the file${suggestion ? ` to \`${suggestion}.md\`` : ''} or add \`id: …\` to the header`,
      { ruleId: 'id-format', place: { line: 1, column: 1 } },
    );
    return { file, source, meta: undefined };
  }
  const meta = toBriefingMeta(raw, id);
  file.data.briefing = meta;
  return { file, source, meta };
}

/** C0 control characters other than tab and line breaks are invisible in editors and break output. */
function reportControlCharacters(file: VFile, text: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  const pattern = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
  let reported = 0;
  for (const match of text.matchAll(pattern)) {
    if (reported++ >= maxControlCharacterReports) break;
    const before = text.slice(0, match.index);
    const line = before.split('\n').length;
    const column = match.index - before.lastIndexOf('\n');
    const code = (match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    error(file, `Unexpected control character U+${code}, expected visible text; delete it`, {
      ruleId: 'control-character',
      place: { line, column },
    });
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The strings of a list with their index in it (other items were reported by the schema). */
function indexedStrings(value: unknown): Array<[string, number]> {
  if (!Array.isArray(value)) return [];
  return value.flatMap(
    (item, index): Array<[string, number]> => (typeof item === 'string' ? [[item, index]] : []),
  );
}

function toBriefingMeta(raw: Raw, id: string): BriefingMeta {
  const meta: BriefingMeta = {
    id,
    title: String(raw.title),
    date: String(raw.date),
    summary: String(raw.summary),
    keyPoints: strings(raw.key_points),
    tags: strings(raw.tags),
    regions: strings(raw.regions),
    authors: strings(raw.authors),
    sources: Array.isArray(raw.sources) ? raw.sources.map((entry) => toSource(entry as Raw)) : [],
  };
  if (typeof raw.marking === 'string') meta.marking = raw.marking;
  return meta;
}

function toSource(raw: Raw): Source {
  const source: Source = { title: String(raw.title) };
  if (typeof raw.publisher === 'string') source.publisher = raw.publisher;
  if (typeof raw.url === 'string') source.url = raw.url;
  if (typeof raw.date === 'string') source.date = raw.date;
  return source;
}

function toPack(raw: Raw, briefingIds: string[], briefIds: string[]): Pack {
  const brief = (raw.brief ?? {}) as Raw;
  const pack: Pack = {
    title: String(raw.title),
    date: String(raw.date),
    language: typeof raw.language === 'string' ? raw.language : 'en',
    paper: (raw.paper ?? 'A4') as Paper,
    markings: strings(raw.markings),
    briefingIds,
    brief: {
      title: typeof brief.title === 'string' ? brief.title : String(raw.title),
      briefingIds: briefIds,
    },
  };
  for (const key of ['subtitle', 'edition', 'organisation', 'audience', 'marking'] as const) {
    const value = raw[key];
    if (typeof value === 'string') pack[key] = value;
  }
  return pack;
}

function idPlace(entry: CheckedBriefing) {
  const key = entry.source ? resolvePath(entry.source, '/id') : undefined;
  return entry.source && key?.value ? rangeOf(entry.source, key.value) : { line: 1, column: 1 };
}

function reportDuplicateIds(checked: CheckedBriefing[]): void {
  const seen = new Map<string, CheckedBriefing>();
  for (const entry of checked) {
    if (!entry.meta) continue;
    const folded = entry.meta.id.toLowerCase();
    const first = seen.get(folded);
    if (!first) {
      seen.set(folded, entry);
      continue;
    }
    const fromFileName = !(entry.source && resolvePath(entry.source, '/id').value);
    error(
      entry.file,
      `Unexpected duplicate id \`${entry.meta.id}\`${fromFileName ? ' (from the file name)' : ''}, already used by \`${path.basename(first.file.path)}\`; give each briefing its own id${fromFileName ? ' with `id: …` or by renaming the file' : ''}`,
      { ruleId: 'duplicate-id', place: idPlace(entry) },
    );
    entry.meta = undefined;
    delete entry.file.data.briefing;
  }
}

/** The pack's briefing order: the `briefings` list, or every briefing newest first, then by id. */
function resolveOrder(
  packFile: VFile,
  packSource: YamlSource | undefined,
  rawPack: Raw | undefined,
  checked: CheckedBriefing[],
  byId: Map<string, CheckedBriefing>,
): string[] {
  const listed = rawPack ? indexedStrings(rawPack.briefings) : [];
  if (!rawPack || listed.length === 0 || !packSource) {
    return checked
      .flatMap((entry) => (entry.meta ? [entry.meta] : []))
      .sort((a, b) => (a.date === b.date ? a.id.localeCompare(b.id) : a.date < b.date ? 1 : -1))
      .map((meta) => meta.id);
  }
  // A briefing with header errors has no id yet; its file name is still the likeliest meant.
  const known = [
    ...new Set([...byId.keys(), ...checked.map((entry) => path.basename(entry.file.path, '.md'))]),
  ];
  const seen = new Set<string>();
  const order: string[] = [];
  listed.forEach(([id, index]) => {
    // An id that is not even well-formed was reported by the schema.
    if (!idPattern.test(id)) return;
    const place = rangeOf(packSource, resolvePath(packSource, `/briefings/${index}`).value);
    if (seen.has(id)) {
      error(packFile, `Unexpected \`${id}\` twice in \`briefings\`; list each briefing once`, {
        ruleId: 'duplicate-item',
        place,
      });
      return;
    }
    seen.add(id);
    if (!byId.has(id) && !checked.some((entry) => path.basename(entry.file.path, '.md') === id)) {
      error(packFile, `Unknown briefing \`${id}\` in \`briefings\`${didYouMean(id, known)}`, {
        ruleId: 'unknown-briefing',
        place,
      });
      return;
    }
    order.push(id);
  });
  for (const entry of checked) {
    if (entry.meta && !seen.has(entry.meta.id)) {
      warning(
        entry.file,
        `Unexpected briefing \`${entry.meta.id}\` missing from \`briefings\` in \`pack.yaml\`, so it is left out; add it to the list or move the file out of \`briefings/\``,
        { ruleId: 'unlisted-briefing', place: { line: 1, column: 1 } },
      );
    }
  }
  return order;
}

function resolveBriefIds(
  packFile: VFile,
  packSource: YamlSource | undefined,
  rawPack: Raw | undefined,
  briefingIds: string[],
  byId: Map<string, CheckedBriefing>,
): string[] {
  const listed = indexedStrings((rawPack?.brief as Raw | undefined)?.briefings);
  if (listed.length === 0 || !packSource) return briefingIds;
  const inPack = new Set(briefingIds);
  const kept = listed.filter(([id, index]) => {
    if (inPack.has(id)) return true;
    if (!idPattern.test(id)) return false;
    const place = rangeOf(packSource, resolvePath(packSource, `/brief/briefings/${index}`).value);
    const reason = byId.has(id)
      ? `Unexpected briefing \`${id}\` in \`brief.briefings\` that is not in the pack; add it to \`briefings\` first`
      : `Unknown briefing \`${id}\` in \`brief.briefings\`${didYouMean(id, briefingIds)}`;
    error(packFile, reason, { ruleId: 'unknown-briefing', place });
    return false;
  });
  return kept.map(([id]) => id);
}

/** Markings: the pack's on its own scale, each briefing's on the scale and not above the pack's. */
function checkMarkings(
  packFile: VFile,
  packSource: YamlSource,
  pack: Pack,
  checked: CheckedBriefing[],
): void {
  const scale = pack.markings;
  if (pack.marking && scale.length > 0 && !scale.includes(pack.marking)) {
    error(
      packFile,
      `Unknown marking \`${pack.marking}\`, expected one of the \`markings\`: ${listOf(scale)}${didYouMean(pack.marking, scale)}`,
      { ruleId: 'unknown-marking', place: rangeOf(packSource, resolvePath(packSource, '/marking').value) },
    );
    return;
  }
  for (const entry of checked) {
    const marking = entry.meta?.marking;
    if (!marking || !entry.source || !pack.briefingIds.includes(entry.meta?.id ?? '')) continue;
    const place = rangeOf(entry.source, resolvePath(entry.source, '/marking').value);
    if (scale.length === 0) {
      error(
        entry.file,
        `Unexpected \`marking\` without a marking scale, expected \`markings\` in \`pack.yaml\`; list the markings there, lowest first`,
        { ruleId: 'marking-scale', place },
      );
    } else if (!scale.includes(marking)) {
      error(
        entry.file,
        `Unknown marking \`${marking}\`, expected one of the pack's \`markings\`: ${listOf(scale)}${didYouMean(marking, scale)}`,
        {
          ruleId: 'unknown-marking',
          place,
        },
      );
    } else if (!pack.marking) {
      error(
        entry.file,
        `Unexpected briefing marked \`${marking}\` in a pack without a \`marking\`; set the pack's \`marking\` to \`${marking}\` or higher`,
        { ruleId: 'marking-above-pack', place },
      );
    } else if (scale.indexOf(marking) > scale.indexOf(pack.marking)) {
      error(
        entry.file,
        `Unexpected marking \`${marking}\` above the pack's \`${pack.marking}\`; raise the pack's \`marking\` or leave this briefing out`,
        { ruleId: 'marking-above-pack', place },
      );
    }
  }
}
