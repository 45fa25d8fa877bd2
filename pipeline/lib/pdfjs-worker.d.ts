/** pdf.js's worker code, loaded by `pdfjs.ts` for the "fake worker" pdf.js runs in Node. */
declare module 'pdfjs-dist/legacy/build/pdf.worker.mjs' {
  export const WorkerMessageHandler: unknown;
}
