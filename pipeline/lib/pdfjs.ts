/**
 * pdf.js, loaded so that its polyfills cannot slow the rest of the build down.
 *
 * Node 20 needs pdf.js's legacy build, which carries core-js. Besides adding what Node 20 lacks
 * (`Promise.withResolvers`, `Uint8Array.fromBase64`, …), core-js *replaces* built-ins that Node has but
 * that miss a recent detail of the standard: `JSON.parse` and `JSON.stringify` (for `JSON.rawJSON`),
 * `Array.prototype.push` and `Function.prototype.toString`, for the whole process. Every message
 * puppeteer exchanges with the browser then went through a JSON parser written in JavaScript, and every
 * `push` in every library through a polyfill: a measured part of a build's processor time.
 *
 * So pdf.js and its worker code (which the main thread runs itself in Node, as a "fake worker") are
 * imported together, and every built-in function they replaced is put back; pdf.js itself needs none
 * of the details the replacements add. What they added stays (pdf.js uses `Promise.withResolvers` and
 * others), except `Uint8Array.fromBase64`: puppeteer uses it when it exists, so every PDF the browser
 * sent back was decoded by the polyfill, in JavaScript, instead of by `Buffer`. pdf.js calls it only
 * for XFA images and when signing in its editor, neither of which reading a PDF's text reaches.
 */
type Pdfjs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');

let loading: Promise<Pdfjs> | undefined;

/** pdf.js, imported once. */
export function loadPdfjs(): Promise<Pdfjs> {
  loading ??= importKeepingBuiltIns();
  return loading;
}

/** The built-in objects whose functions a polyfill may replace. */
function builtIns(): object[] {
  const typedArray = Object.getPrototypeOf(Uint8Array) as object;
  return [
    globalThis,
    Object,
    Object.prototype,
    Function.prototype,
    Array,
    Array.prototype,
    JSON,
    Math,
    Number,
    Number.prototype,
    String,
    String.prototype,
    Symbol,
    RegExp.prototype,
    Promise,
    Promise.prototype,
    Map,
    Map.prototype,
    Set,
    Set.prototype,
    WeakMap.prototype,
    ArrayBuffer.prototype,
    DataView.prototype,
    typedArray,
    (typedArray as { prototype: object }).prototype,
    Uint8Array,
    Uint8Array.prototype,
    Reflect,
  ];
}

async function importKeepingBuiltIns(): Promise<Pdfjs> {
  const owners = builtIns();
  const hadFromBase64 = 'fromBase64' in Uint8Array;
  // The functions each built-in object has now (data properties only: accessors are left alone).
  const before = owners.map(
    (owner) =>
      new Map(
        Reflect.ownKeys(owner).flatMap((key) => {
          const descriptor = Object.getOwnPropertyDescriptor(owner, key);
          return descriptor && 'value' in descriptor && typeof descriptor.value === 'function'
            ? [[key, descriptor] as const]
            : [];
        }),
      ),
  );
  try {
    const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
    // In Node, pdf.js runs its worker's code on the main thread, importing it on first use; it finds
    // it here instead, already loaded (with its own copy of the polyfills) under the same watch.
    (globalThis as { pdfjsWorker?: unknown }).pdfjsWorker = await import(
      'pdfjs-dist/legacy/build/pdf.worker.mjs'
    );
    return pdfjs;
  } finally {
    if (!hadFromBase64) Reflect.deleteProperty(Uint8Array, 'fromBase64');
    owners.forEach((owner, index) => {
      for (const [key, descriptor] of before[index] ?? []) {
        if (Object.getOwnPropertyDescriptor(owner, key)?.value !== descriptor.value)
          Object.defineProperty(owner, key, descriptor);
      }
    });
  }
}
