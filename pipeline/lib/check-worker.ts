/**
 * The second thread of `check`: checks briefing bodies beside the main thread, which validates the
 * headers meanwhile. Both take the next briefing from one shared counter, so neither waits for the
 * other; see `parallel-check.ts`. Runs only from the bundle `scripts/run.mjs` makes.
 */
import { parentPort } from 'node:worker_threads';
import { VFile } from 'vfile';
import { checkBriefing } from '../03-convert-markdown.ts';
import { splitFrontMatter } from './front-matter.ts';
import { type BodyCheckRequest, type BodyCheckResult, serialiseMessages } from './parallel-check.ts';

parentPort?.once('message', async (request: BodyCheckRequest) => {
  try {
    const claimed = new Int32Array(request.counter);
    const results: BodyCheckResult[] = [];
    const takeNext = async (): Promise<void> => {
      for (;;) {
        const index = Atomics.add(claimed, 0, 1);
        const briefing = request.briefings[index];
        if (!briefing) return;
        // The split is the main thread's too (stage 2); its problems are reported there.
        const split = splitFrontMatter(new VFile(), briefing.value);
        if (!split) continue;
        const file = new VFile({ path: briefing.path, value: briefing.value });
        file.data.bodyStart = { line: split.bodyLine, offset: split.bodyOffset };
        await checkBriefing(file, request.sourceDir);
        results.push({ index, messages: serialiseMessages(file) });
      }
    };
    await Promise.all([takeNext(), takeNext(), takeNext(), takeNext()]);
    parentPort?.postMessage({ results });
  } catch (cause) {
    parentPort?.postMessage({
      failure: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause),
    });
  }
});
