/**
 * Generates a source folder of N synthetic briefings, for tests and the benchmark: realistic lengths,
 * an Unpacked Q&A, key points, sources, and on request tables, footnotes, images, Cyrillic and Hangul.
 * Deterministic: the same options always give the same bytes.
 *
 *   npx tsx scripts/generate-pack.ts --count 30 --out /tmp/pack [--all-features] [--table-rows 80]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deflateSync } from 'node:zlib';

/** What to put in the generated briefings. */
export interface GenerateOptions {
  count: number;
  /** Include a table in every third briefing. */
  tables?: boolean;
  /** Rows of each table. */
  tableRows?: number;
  footnotes?: boolean;
  /** Include an image in every fourth briefing (PNG files under `assets/`). */
  images?: boolean;
  cyrillic?: boolean;
  hangul?: boolean;
  /** Paragraphs in each briefing's body, before the Unpacked section. */
  paragraphs?: number;
  /** Key points per briefing (0 for none). */
  keyPoints?: number;
  /** Key points of one short clause (about 70 characters) instead of a full sentence. */
  shortKeyPoints?: boolean;
  /** Sentences in each summary (default 3). */
  summarySentences?: number;
  paper?: 'A4' | 'Letter';
  /** How many of the first briefings go on the one-page brief (default: up to 4). */
  briefCount?: number;
  seed?: number;
}

/** A small deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const subjects = [
  'the foreign ministry',
  'the defence committee',
  'regional partners',
  'the finance ministry',
  'the security council',
  'allied governments',
  'the central bank',
  'independent analysts',
  'the trade envoy',
  'opposition leaders',
];
const verbs = [
  'has warned',
  'has confirmed',
  'is expected',
  'has proposed',
  'has rejected',
  'is reviewing',
  'has signalled',
];
const objects = [
  'new sanctions on dual-use exports',
  'a revised maritime security arrangement',
  'the terms of the energy transit agreement',
  'closer intelligence sharing with neighbours',
  'an emergency package of budget support',
  'limits on foreign investment in critical infrastructure',
  'a timetable for the withdrawal of observers',
  'the renewal of the fisheries accord',
];
const tails = [
  'before the summit at the end of the month',
  'despite objections from several member states',
  'in a statement issued late on Tuesday',
  'according to officials familiar with the talks',
  'while negotiations on the wider package continue',
  'after a review of the previous arrangement',
];
const regions = [
  'East Asia',
  'Europe',
  'Middle East',
  'Africa',
  'Latin America',
  'South Asia',
  'Central Asia',
  'Arctic',
];
const tags = [
  'Sanctions',
  'Energy',
  'Defence',
  'Trade',
  'Diplomacy',
  'Migration',
  'Cyber',
  'Finance',
  'Maritime',
];
const cyrillicNames = [
  'Сергей Лавров',
  'Мария Захарова',
  'Министерство иностранных дел',
  'Совет Безопасности',
];
const hangulNames = ['김정은', '조선민주주의인민공화국', '외무성', '국방위원회'];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)] as T;
}

function sentence(next: () => number): string {
  const text = `${pick(next, subjects)} ${pick(next, verbs)} ${pick(next, objects)} ${pick(next, tails)}.`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function clause(next: () => number): string {
  const text = `${pick(next, subjects)} ${pick(next, verbs)} ${pick(next, objects)}.`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function paragraph(next: () => number, sentences: number): string {
  return Array.from({ length: sentences }, () => sentence(next)).join(' ');
}

function yamlString(text: string): string {
  return JSON.stringify(text);
}

/** A solid-colour PNG of the given size, with a band, made without any image library. */
export function makePng(width: number, height: number, colour: [number, number, number]): Uint8Array {
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const band = y > height * 0.4 && y < height * 0.6;
      row[1 + x * 3] = band ? 255 : colour[0];
      row[2 + x * 3] = band ? 255 : colour[1];
      row[3 + x * 3] = band ? 255 : colour[2];
    }
    rows.push(row);
  }
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The id of generated briefing number `index` (0-based). */
export function generatedId(index: number): string {
  return `briefing-${String(index + 1).padStart(3, '0')}`;
}

/** Writes a generated source folder into `dir`; returns the briefing ids in pack order. */
export async function generatePack(dir: string, options: GenerateOptions): Promise<string[]> {
  const next = random(options.seed ?? 42);
  await mkdir(path.join(dir, 'briefings'), { recursive: true });
  const ids: string[] = [];
  if (options.images) {
    await mkdir(path.join(dir, 'assets'), { recursive: true });
    await writeFile(path.join(dir, 'assets', 'chart.png'), makePng(320, 180, [29, 59, 92]));
    await writeFile(path.join(dir, 'assets', 'map.png'), makePng(240, 240, [120, 140, 90]));
  }
  for (let index = 0; index < options.count; index++) {
    const id = generatedId(index);
    ids.push(id);
    const day = String(1 + (index % 28)).padStart(2, '0');
    const month = String(1 + (Math.floor(index / 28) % 12)).padStart(2, '0');
    const title = `${pick(next, ['Talks', 'Pressure', 'Deal', 'Dispute', 'Review', 'Outlook'])} on ${pick(next, objects)}`;
    const keyPointCount = options.keyPoints ?? 3;
    const lines = [
      '---',
      `title: ${yamlString(`${title.charAt(0).toUpperCase()}${title.slice(1)} (${index + 1})`)}`,
      `date: 2025-${month}-${day}`,
      `summary: ${yamlString(paragraph(next, options.summarySentences ?? 3))}`,
    ];
    if (keyPointCount > 0) {
      lines.push('key_points:');
      for (let point = 0; point < keyPointCount; point++) {
        lines.push(`  - ${yamlString(options.shortKeyPoints ? clause(next) : sentence(next))}`);
      }
    }
    lines.push(
      `tags: [${pick(next, tags)}, ${pick(next, tags.slice().reverse())}]`.replace(/\[(\w+), \1\]/, '[$1]'),
    );
    lines.push(`regions: [${pick(next, regions)}]`);
    lines.push('sources:');
    lines.push(`  - title: ${yamlString(`Statement on ${pick(next, objects)}`)}`);
    lines.push('    publisher: Ministry of Foreign Affairs');
    lines.push(`    url: https://example.org/statements/${id}`);
    lines.push(`    date: 2025-${month}-${day}`);
    lines.push('---', '');

    const body: string[] = [];
    for (let count = 0; count < (options.paragraphs ?? 3); count++) {
      let text = paragraph(next, 4);
      if (options.cyrillic && count === 0 && index % 2 === 0)
        text += ` The statement was signed by ${pick(next, cyrillicNames)}.`;
      if (options.hangul && count === 0 && index % 3 === 0)
        text += ` Officials at the ${pick(next, hangulNames)} declined to comment.`;
      if (options.footnotes && count === 0) text += `[^${id}-note]`;
      body.push(text, '');
    }
    if (options.tables && index % 3 === 0) {
      body.push('## Figures', '', '| Country | Exports (bn) | Change | Note |', '|---|---:|---:|---|');
      for (let row = 0; row < (options.tableRows ?? 8); row++) {
        body.push(
          `| Country ${row + 1} | ${(10 + next() * 90).toFixed(1)} | ${(next() * 20 - 10).toFixed(1)}% | Row ${row + 1} of the table |`,
        );
      }
      body.push('');
    }
    if (options.images && index % 4 === 0) {
      body.push(
        `![A chart of exports for briefing ${index + 1}](../assets/${index % 8 === 0 ? 'chart' : 'map'}.png)`,
        '',
      );
    }
    body.push('## Unpacked', '');
    const questions = 2 + (index % 3);
    for (let question = 0; question < questions; question++) {
      body.push(
        `### What does ${pick(next, objects)} mean for ${pick(next, subjects)} (${question + 1})?`,
        '',
      );
      body.push(paragraph(next, 3), '');
    }
    if (options.footnotes) body.push(`[^${id}-note]: ${sentence(next)}`, '');
    await writeFile(path.join(dir, 'briefings', `${id}.md`), `${lines.join('\n')}\n${body.join('\n')}`);
  }
  const pack = [
    `title: Generated pack of ${options.count}`,
    'subtitle: Synthetic briefings for tests and benchmarks',
    'date: 2025-07-13',
    'edition: 2025-W28',
    'organisation: Policy Unit',
    'language: en-GB',
    `paper: ${options.paper ?? 'A4'}`,
    'marking: OFFICIAL',
    'markings: [OFFICIAL, OFFICIAL-SENSITIVE]',
    'briefings:',
    ...ids.map((id) => `  - ${id}`),
    'brief:',
    '  briefings:',
    ...ids.slice(0, options.briefCount ?? 4).map((id) => `    - ${id}`),
    '',
  ];
  await writeFile(path.join(dir, 'pack.yaml'), pack.join('\n'));
  return ids;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '30' },
      out: { type: 'string' },
      'all-features': { type: 'boolean' },
      'table-rows': { type: 'string' },
      paper: { type: 'string' },
    },
  });
  if (!values.out) throw new Error('--out DIR is required');
  const all = values['all-features'] === true;
  await generatePack(values.out, {
    count: Number(values.count),
    tables: all,
    footnotes: all,
    images: all,
    cyrillic: all,
    hangul: all,
    ...(values['table-rows'] ? { tableRows: Number(values['table-rows']) } : {}),
    ...(values.paper === 'Letter' ? { paper: 'Letter' as const } : {}),
  });
}
