/**
 * Joining the parts a document was printed in. Each part is a tagged PDF with an outline, as Chromium
 * prints one; the joined document must read as if Chromium had printed it whole: one structure tree
 * (the parent tree's keys running on from part to part), one set of named destinations for the links
 * to use, one outline. pdf-lib copies the objects; this module joins what it cannot know about. What
 * Chromium does not write is refused with an error rather than joined half right, and the caller then
 * prints the document whole.
 */
import {
  PDFArray,
  PDFDict,
  type PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  type PDFObject,
  PDFObjectCopier,
  PDFPage,
  PDFPageLeaf,
  PDFRef,
  PDFString,
} from 'pdf-lib';
import { loadPdf } from './pdf-read.ts';
import { turn } from './pool.ts';

const key = {
  Count: PDFName.of('Count'),
  Dests: PDFName.of('Dests'),
  Document: PDFName.of('Document'),
  A: PDFName.of('A'),
  First: PDFName.of('First'),
  Headers: PDFName.of('Headers'),
  ID: PDFName.of('ID'),
  IDTree: PDFName.of('IDTree'),
  K: PDFName.of('K'),
  Kids: PDFName.of('Kids'),
  Lang: PDFName.of('Lang'),
  Last: PDFName.of('Last'),
  Limits: PDFName.of('Limits'),
  Names: PDFName.of('Names'),
  Next: PDFName.of('Next'),
  Nums: PDFName.of('Nums'),
  Outlines: PDFName.of('Outlines'),
  P: PDFName.of('P'),
  Parent: PDFName.of('Parent'),
  ParentTree: PDFName.of('ParentTree'),
  ParentTreeNextKey: PDFName.of('ParentTreeNextKey'),
  Prev: PDFName.of('Prev'),
  S: PDFName.of('S'),
  SE: PDFName.of('SE'),
  StructParent: PDFName.of('StructParent'),
  StructParents: PDFName.of('StructParents'),
  StructTreeRoot: PDFName.of('StructTreeRoot'),
};

/**
 * The catalog entries of a later part that the merge joins (pages, structure, destinations, outline)
 * or may drop because the first part's stand for the whole (language, viewer preferences, marking).
 * Anything else in a later part's catalog would be lost, so it is refused.
 */
const joinedCatalogKeys = new Set([
  'Type',
  'Pages',
  'Dests',
  'Outlines',
  'StructTreeRoot',
  'MarkInfo',
  'Lang',
  'ViewerPreferences',
]);

/** What Chromium writes in a structure tree root (ids for the header cells of tables), no role or class map. */
const structTreeRootKeys = new Set(['Type', 'K', 'ParentTree', 'ParentTreeNextKey', 'IDTree']);

/** What Chromium writes in the Document element, which a later part loses to the first part's. */
const documentElementKeys = new Set(['Type', 'S', 'P', 'K', 'Lang']);

/** A part's structure tree, read and checked. */
interface Structure {
  root: PDFDict;
  elementRef: PDFRef;
  element: PDFDict;
  /** The Document element's kids, each a reference to a structure element. */
  kids: PDFRef[];
  /** The parent tree's entries in key order, flattened from a number tree's nodes. */
  entries: Array<[number, PDFObject]>;
  /** The number tree's nodes below its root, which a flattened tree no longer uses. */
  innerNodes: PDFRef[];
  /** The id tree's entries (an element's `/ID` and the element), flattened from its nodes. */
  ids: Array<[string, PDFObject]>;
  /** The id tree's nodes below its root. */
  idNodes: PDFRef[];
  /** The first key free after the part's own: its `/ParentTreeNextKey`, or past its last key. */
  nextKey: number;
  /** The language of the part's content, from its Document element or its catalog. */
  language: PDFString | PDFHexString | undefined;
}

/** A part's outline: its root and the items at its top level, in order. */
interface Outline {
  root: PDFDict;
  items: PDFRef[];
  /** The root's `/Count`: how many items show when the document opens. */
  count: number;
}

/** What a part's catalog holds that the merge joins. */
interface Part {
  document: PDFDocument;
  structure: Structure | undefined;
  dests: PDFDict | undefined;
  outline: Outline | undefined;
}

/** The first part as the merge grows it. */
interface Target {
  document: PDFDocument;
  structure:
    | {
        root: PDFDict;
        elementRef: PDFRef;
        kids: PDFArray;
        nums: PDFArray;
        nextKey: number;
        language: string;
        /** The id tree's entries, written as one sorted leaf once every part is in. */
        ids: Array<[string, PDFObject]>;
      }
    | undefined;
  dests: PDFDict | undefined;
  outline: { rootRef: PDFRef; root: PDFDict; last: PDFRef | undefined; count: number } | undefined;
}

/** Options of {@link mergePrintedParts}. */
export interface MergeOptions {
  /**
   * The part (0-based) that holds the real target of a named destination. Chromium writes a
   * destination only for a target in the same document, so the parts hold placeholders for targets
   * that live in another part; a destination named here is taken from its own part only. Any other
   * is taken from the last part that has it.
   */
  owners?: ReadonlyMap<string, number>;
}

/**
 * Joins PDFs printed by Chromium (tagged, with outline) into one document, in order. The first part's
 * catalog stands for the whole; one part comes back as it was parsed. Throws where a part holds what
 * Chromium does not write (a role map, ids, destinations in a name tree, a catalog entry that would be
 * lost), or is tagged where the first is not or the other way round.
 */
export async function mergePrintedParts(
  parts: readonly (Uint8Array | PDFDocument)[],
  options: MergeOptions = {},
): Promise<PDFDocument> {
  // A part may come parsed already (the caller parses parts while others print); it is changed here.
  const documents = await Promise.all(
    parts.map((part) => (part instanceof Uint8Array ? loadPdf(part) : part)),
  );
  const [base, ...rest] = documents;
  if (!base) throw new Error('There is no printed part to merge.');
  if (rest.length === 0) return base;
  // Every part is read and checked before the first is changed.
  const read = documents.map(readPart);
  const tagged = read.map((part) => part.structure !== undefined);
  const odd = tagged.findIndex((isTagged) => isTagged !== tagged[0]);
  if (odd > 0) {
    const not = (isTagged: boolean | undefined) => (isTagged ? '' : 'not ');
    throw new Error(
      `Cannot merge printed parts: part 1 is ${not(tagged[0])}tagged and part ${odd + 1} is ${not(tagged[odd])}tagged.`,
    );
  }
  const owners = options.owners ?? new Map<string, number>();
  const target = startTarget(read[0] as Part, owners);
  for (const [index, part] of read.entries()) {
    if (index === 0) continue;
    // A part takes about 10 ms to append (a pack of 100 briefings has ten): the pages printing
    // meanwhile are answered between parts.
    await turn();
    appendPart(target, part, index, owners);
  }
  if (target.structure) {
    const { root, nextKey, ids } = target.structure;
    root.set(key.ParentTreeNextKey, PDFNumber.of(nextKey));
    if (ids.length > 0) {
      ids.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const names = ids.flatMap(([id, element]) => [PDFString.of(id), element]);
      root.set(key.IDTree, base.context.register(base.context.obj({ Names: names })));
    }
  }
  return base;
}

function refuse(index: number, what: string): Error {
  return new Error(`Cannot merge printed part ${index + 1}: it ${what}.`);
}

function readPart(document: PDFDocument, index: number): Part {
  const catalog = document.catalog;
  if (index > 0) {
    for (const [name] of catalog.entries()) {
      if (!joinedCatalogKeys.has(name.decodeText())) {
        throw refuse(index, `has ${name.toString()} in its catalog, which merging would lose`);
      }
    }
  }
  const names = catalog.lookup(key.Names);
  if (names instanceof PDFDict && names.has(key.Dests)) {
    // Its links name destinations with strings, looked up in a sorted name tree, not in `/Dests`.
    throw refuse(index, 'keeps its named destinations in a name tree (/Names /Dests)');
  }
  const dests = catalog.lookup(key.Dests);
  if (dests !== undefined && !(dests instanceof PDFDict))
    throw refuse(index, 'has a /Dests that is not a dictionary');
  const structure = readStructure(document, index);
  return {
    document,
    structure,
    dests,
    outline: readOutline(document, index, structure?.elementRef),
  };
}

function readStructure(document: PDFDocument, index: number): Structure | undefined {
  const { catalog, context } = document;
  const root = catalog.lookup(key.StructTreeRoot);
  if (root === undefined) return undefined;
  if (!(root instanceof PDFDict)) throw refuse(index, 'has a /StructTreeRoot that is not a dictionary');
  for (const [name] of root.entries()) {
    if (!structTreeRootKeys.has(name.decodeText())) {
      throw refuse(index, `has ${name.toString()} in its structure tree root, which merging does not join`);
    }
  }
  const elementRef = root.get(key.K);
  const element = elementRef instanceof PDFRef ? context.lookup(elementRef) : undefined;
  if (
    !(elementRef instanceof PDFRef) ||
    !(element instanceof PDFDict) ||
    element.get(key.S) !== key.Document
  ) {
    throw refuse(index, 'has no Document element at the top of its structure tree');
  }
  for (const [name] of element.entries()) {
    if (!documentElementKeys.has(name.decodeText())) {
      throw refuse(index, `has ${name.toString()} in its Document element, which merging would lose`);
    }
  }

  const rawKids = element.get(key.K);
  const kidsValue = rawKids instanceof PDFRef ? context.lookup(rawKids) : rawKids;
  const kidList =
    kidsValue instanceof PDFArray ? kidsValue.asArray() : rawKids === undefined ? [] : [rawKids];
  const kids = kidList.map((kid) => {
    if (!(kid instanceof PDFRef) || !(context.lookup(kid) instanceof PDFDict)) {
      throw refuse(index, 'has content directly in its Document element');
    }
    return kid;
  });

  const entries: Array<[number, PDFObject]> = [];
  const innerNodes: PDFRef[] = [];
  const tree = root.lookup(key.ParentTree);
  if (tree instanceof PDFDict) flattenTree(numberTree, document, tree, index, entries, innerNodes);
  else if (tree !== undefined) throw refuse(index, 'has a /ParentTree that is not a dictionary');
  // A parent tree entry naming the Document element would copy it, and the tree root above it, anew.
  for (const [, value] of entries) {
    const resolved = value instanceof PDFRef ? context.lookup(value) : value;
    const listed = resolved instanceof PDFArray ? resolved.asArray() : [value];
    if (listed.includes(elementRef)) throw refuse(index, 'has content directly in its Document element');
  }

  const ids: Array<[string, PDFObject]> = [];
  const idNodes: PDFRef[] = [];
  const idTree = root.lookup(key.IDTree);
  if (idTree instanceof PDFDict) flattenTree(nameTree, document, idTree, index, ids, idNodes);
  else if (idTree !== undefined) throw refuse(index, 'has an /IDTree that is not a dictionary');

  const stated = root.lookup(key.ParentTreeNextKey);
  const lastKey = entries.at(-1)?.[0] ?? -1;
  const lang = element.lookup(key.Lang) ?? catalog.lookup(key.Lang);
  return {
    root,
    elementRef,
    element,
    kids,
    entries,
    innerNodes,
    ids,
    idNodes,
    nextKey: Math.max(stated instanceof PDFNumber ? stated.asNumber() : 0, lastKey + 1),
    language: lang instanceof PDFString || lang instanceof PDFHexString ? lang : undefined,
  };
}

/** How to read the leaves of a number tree (`/Nums`) or a name tree (`/Names`), and what to call it. */
interface TreeKind<K> {
  leaves: PDFName;
  what: string;
  /** A leaf's key, or undefined when it is not one (or out of order after `previous`). */
  key(value: PDFObject | undefined, previous: K | undefined): K | undefined;
}

const numberTree: TreeKind<number> = {
  leaves: key.Nums,
  what: 'parent tree',
  key: (value, previous) =>
    value instanceof PDFNumber && value.asNumber() > (previous ?? -1) ? value.asNumber() : undefined,
};

const nameTree: TreeKind<string> = {
  leaves: key.Names,
  what: 'id tree',
  key: (value) =>
    value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined,
};

/** Reads a number or name tree's entries in order, from its leaves and, through `/Kids`, its nodes below. */
function flattenTree<K>(
  kind: TreeKind<K>,
  document: PDFDocument,
  node: PDFDict,
  index: number,
  entries: Array<[K, PDFObject]>,
  innerNodes: PDFRef[],
  depth = 0,
): void {
  if (depth > 32) throw refuse(index, `has a ${kind.what} nested deeper than 32 levels`);
  const leaves = node.lookup(kind.leaves);
  if (leaves instanceof PDFArray) {
    for (let at = 0; at + 1 < leaves.size(); at += 2) {
      const found = kind.key(leaves.lookup(at), entries.at(-1)?.[0]);
      const value = leaves.get(at + 1);
      if (found === undefined || value === undefined) {
        throw refuse(index, `has a ${kind.what} whose keys are not in order`);
      }
      entries.push([found, value]);
    }
  }
  const kids = node.lookup(key.Kids);
  if (kids instanceof PDFArray) {
    for (const kid of kids.asArray()) {
      const child = kid instanceof PDFRef ? document.context.lookup(kid) : undefined;
      if (!(kid instanceof PDFRef) || !(child instanceof PDFDict)) {
        throw refuse(index, `has a ${kind.what} node that is not a dictionary`);
      }
      innerNodes.push(kid);
      flattenTree(kind, document, child, index, entries, innerNodes, depth + 1);
    }
  }
}

function readOutline(
  document: PDFDocument,
  index: number,
  elementRef: PDFRef | undefined,
): Outline | undefined {
  const root = document.catalog.lookup(key.Outlines);
  if (root === undefined) return undefined;
  if (!(root instanceof PDFDict)) throw refuse(index, 'has an /Outlines that is not a dictionary');
  const items = outlineLevel(document, root, index);
  // An item pointing at the Document element would copy it, and the tree root above it, anew.
  if (elementRef) {
    const pending = [...items];
    for (let item = pending.pop(); item; item = pending.pop()) {
      const dict = document.context.lookup(item, PDFDict);
      if (dict.get(key.SE) === elementRef) throw refuse(index, 'has a bookmark on its Document element');
      pending.push(...outlineLevel(document, dict, index));
    }
  }
  const count = root.lookup(key.Count);
  return { root, items, count: count instanceof PDFNumber ? count.asNumber() : items.length };
}

/** The items under an outline node, from its `/First` along `/Next`. */
function outlineLevel(document: PDFDocument, parent: PDFDict, index: number): PDFRef[] {
  const items: PDFRef[] = [];
  const seen = new Set<PDFRef>();
  for (let item = parent.get(key.First); item !== undefined; ) {
    if (!(item instanceof PDFRef) || seen.has(item) || !(document.context.lookup(item) instanceof PDFDict)) {
      throw refuse(index, 'has an outline whose items do not form a list');
    }
    seen.add(item);
    items.push(item);
    item = document.context.lookup(item, PDFDict).get(key.Next);
  }
  return items;
}

/** Readies the first part to take the others: a flat parent tree and lists to append to. */
function startTarget(part: Part, owners: ReadonlyMap<string, number>): Target {
  const { document, structure, outline } = part;
  const context = document.context;
  const target: Target = { document, structure: undefined, dests: part.dests, outline: undefined };
  // The first part's placeholders for targets in later parts go; their parts put the real ones in.
  for (const [name] of part.dests?.entries() ?? []) {
    const owner = owners.get(name.decodeText());
    if (owner !== undefined && owner !== 0) part.dests?.delete(name);
  }
  if (structure) {
    const { root, element, elementRef, entries, innerNodes, idNodes } = structure;
    // The id tree is written anew once every part is in.
    const idTree = root.get(key.IDTree);
    for (const node of idTree instanceof PDFRef ? [idTree, ...idNodes] : idNodes) context.delete(node);
    root.delete(key.IDTree);
    const statedTree = root.lookup(key.ParentTree);
    const tree = statedTree instanceof PDFDict ? statedTree : context.obj({});
    if (tree !== statedTree) root.set(key.ParentTree, context.register(tree));
    const statedNums = tree.lookup(key.Nums);
    let nums: PDFArray;
    if (innerNodes.length === 0 && statedNums instanceof PDFArray) nums = statedNums;
    else {
      nums = PDFArray.withContext(context);
      for (const [number, value] of entries) {
        nums.push(PDFNumber.of(number));
        nums.push(value);
      }
      tree.delete(key.Kids);
      tree.delete(key.Limits);
      tree.set(key.Nums, nums);
      for (const node of innerNodes) context.delete(node);
    }
    const statedKids = element.lookup(key.K);
    let kids: PDFArray;
    if (statedKids instanceof PDFArray) kids = statedKids;
    else {
      kids = PDFArray.withContext(context);
      for (const kid of structure.kids) kids.push(kid);
      element.set(key.K, kids);
    }
    target.structure = {
      root,
      elementRef,
      kids,
      nums,
      nextKey: structure.nextKey,
      language: structure.language?.decodeText() ?? '',
      ids: [...structure.ids],
    };
  }
  if (outline) {
    const statedRef = document.catalog.get(key.Outlines);
    let rootRef: PDFRef;
    if (statedRef instanceof PDFRef) rootRef = statedRef;
    else {
      // Bookmarks name their parent by reference, so the root becomes an object of its own.
      rootRef = context.register(outline.root);
      document.catalog.set(key.Outlines, rootRef);
    }
    target.outline = { rootRef, root: outline.root, last: outline.items.at(-1), count: outline.count };
  }
  return target;
}

/** Appends a later part's pages to the target, and joins its structure, destinations and outline. */
function appendPart(target: Target, part: Part, index: number, owners: ReadonlyMap<string, number>): void {
  const base = target.document;
  const context = base.context;
  const structure = part.structure;
  // The copier follows every reference: cut the links back to the part's own roots, so it copies what
  // hangs below them and not the roots (each part's to throw away).
  for (const kid of structure?.kids ?? []) part.document.context.lookup(kid, PDFDict).delete(key.P);
  // Chromium names elements after its own node numbers, which another part may use too: each later
  // part's ids get its number in front, in the elements and in the table cells that cite them.
  if (structure && structure.ids.length > 0) renameIds(part.document, structure, `p${index + 1}-`);
  for (const item of part.outline?.items ?? [])
    part.document.context.lookup(item, PDFDict).delete(key.Parent);

  // One copier for the part: a page, its annotations and the structure elements, destinations and
  // bookmarks that name them are each copied once, and refer to the same copy.
  const copier = PDFObjectCopier.for(part.document.context, context);
  const offset = target.structure?.nextKey ?? 0;
  for (const page of part.document.getPages()) {
    const ref = copier.copy(page.ref);
    const node = context.lookup(ref);
    if (!(node instanceof PDFPageLeaf)) throw new Error(`Copying page ${ref.toString()} gave no page.`);
    if (target.structure) {
      shiftKey(node, key.StructParents, offset);
      for (const annotation of node.Annots()?.asArray() ?? []) {
        const dict = context.lookup(annotation);
        if (dict instanceof PDFDict) shiftKey(dict, key.StructParent, offset);
      }
    }
    base.addPage(PDFPage.of(node, ref, base));
  }

  if (target.structure && structure) {
    const { nums, kids, elementRef, language } = target.structure;
    for (const [number, value] of structure.entries) {
      nums.push(PDFNumber.of(number + offset));
      nums.push(copier.copy(value));
    }
    const partLanguage = structure.language;
    const otherLanguage = partLanguage && partLanguage.decodeText() !== language ? partLanguage : undefined;
    for (const kid of structure.kids) {
      const copied = copier.copy(kid);
      const element = context.lookup(copied, PDFDict);
      element.set(key.P, elementRef);
      // The part's language was its Document element's, which it no longer has.
      if (otherLanguage && !element.has(key.Lang)) element.set(key.Lang, copier.copy(otherLanguage));
      kids.push(copied);
    }
    target.structure.nextKey = offset + structure.nextKey;
    for (const [id, element] of structure.ids) target.structure.ids.push([id, copier.copy(element)]);
  }

  if (part.dests) {
    if (!target.dests) {
      target.dests = context.obj({});
      base.catalog.set(key.Dests, context.register(target.dests));
    }
    // A placeholder (in a part that is not the target's) is left out; any other destination replaces
    // an earlier part's of the same name.
    for (const [name, destination] of part.dests.entries()) {
      const owner = owners.get(name.decodeText());
      if (owner === undefined || owner === index) target.dests.set(name, copier.copy(destination));
    }
  }

  const items = part.outline?.items ?? [];
  if (part.outline && items.length > 0) {
    if (!target.outline) {
      const root = context.obj({ Type: 'Outlines' });
      const rootRef = context.register(root);
      base.catalog.set(key.Outlines, rootRef);
      target.outline = { rootRef, root, last: undefined, count: 0 };
    }
    const outline = target.outline;
    const copied = items.map((item) => copier.copy(item));
    for (const item of copied) context.lookup(item, PDFDict).set(key.Parent, outline.rootRef);
    const first = copied[0] as PDFRef;
    if (outline.last) {
      context.lookup(outline.last, PDFDict).set(key.Next, first);
      context.lookup(first, PDFDict).set(key.Prev, outline.last);
    } else {
      outline.root.set(key.First, first);
    }
    outline.last = copied.at(-1);
    if (outline.last) outline.root.set(key.Last, outline.last);
    outline.count += part.outline.count;
    outline.root.set(key.Count, PDFNumber.of(outline.count));
  }
}

/** Puts `prefix` before each id of a part: in its elements' `/ID`, its id tree and its cells' `/Headers`. */
function renameIds(document: PDFDocument, structure: Structure, prefix: string): void {
  const { context } = document;
  const known = new Set(structure.ids.map(([id]) => id));
  const renamed = (text: PDFObject | undefined) => {
    const value = text instanceof PDFRef ? context.lookup(text) : text;
    const id = value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined;
    return id !== undefined && known.has(id) ? PDFString.of(`${prefix}${id}`) : undefined;
  };
  structure.ids = structure.ids.map(([id, element]) => [`${prefix}${id}`, element]);
  const seen = new Set<PDFDict>();
  const pending: PDFObject[] = [...structure.kids];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const node = next instanceof PDFRef ? context.lookup(next) : next;
    if (node instanceof PDFArray) {
      pending.push(...node.asArray());
      continue;
    }
    if (!(node instanceof PDFDict) || seen.has(node)) continue;
    seen.add(node);
    const id = renamed(node.get(key.ID));
    if (id) node.set(key.ID, id);
    const attributes = node.lookup(key.A);
    for (const attribute of attributes instanceof PDFArray ? attributes.asArray() : [attributes]) {
      const dict = attribute instanceof PDFRef ? context.lookup(attribute) : attribute;
      const headers = dict instanceof PDFDict ? dict.lookup(key.Headers) : undefined;
      if (!(headers instanceof PDFArray)) continue;
      for (const [at, header] of headers.asArray().entries()) {
        const cited = renamed(header);
        if (cited) headers.set(at, cited);
      }
    }
    const kids = node.get(key.K);
    if (kids !== undefined) pending.push(kids);
  }
}

/** Moves a key into the parent tree's range of the part that now holds it. */
function shiftKey(dict: PDFDict, name: PDFName, offset: number): void {
  const value = dict.lookup(name);
  if (value instanceof PDFNumber) dict.set(name, PDFNumber.of(value.asNumber() + offset));
}
