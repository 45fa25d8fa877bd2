/**
 * The worker thread that parses Markdown for `parse-markdown.ts`: remark-parse with remark-gfm, the
 * same parser as stage 3's processor. It runs apart so a pathological body can be stopped after its
 * time budget and cannot exhaust the build's memory or stack. Plain JavaScript: a worker does not
 * inherit the TypeScript loader of the main thread.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import { unified } from 'unified';

const processor = unified().use(remarkParse).use(remarkGfm).freeze();
const maxDepth = workerData.maxDepth;

/** The depth of the tree and its deepest node, found without recursion (the tree may be very deep). */
function deepest(tree) {
  let best = { depth: 0, node: tree };
  const stack = [[tree, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop();
    if (depth > best.depth) best = { depth, node };
    for (const child of node.children ?? []) stack.push([child, depth + 1]);
  }
  return best;
}

/** This thread's id in the operating system (Linux), so the parent can read its processor time. */
function threadId() {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop()) || null;
  } catch {
    return null;
  }
}

// The budget of a body starts when the worker is ready, not while it loads the parser.
parentPort.postMessage({ ready: true, tid: threadId() });

parentPort.on('message', ({ text }) => {
  try {
    const tree = processor.parse(text);
    const { depth, node } = deepest(tree);
    // A tree this deep would overflow the stack of the recursive tree tools after this, and of
    // structured cloning on the way back: send its position, not the tree.
    if (depth > maxDepth) parentPort.postMessage({ tooDeep: { depth, place: node.position?.start } });
    else parentPort.postMessage({ tree });
  } catch (error) {
    parentPort.postMessage({ failed: error instanceof Error ? error.message : String(error) });
  }
});
