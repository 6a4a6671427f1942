// Client-side costs, measured in-process (no real servers): how fast a
// provider turns edits into acknowledged ops through the test fakes, and how
// fast large updates are split. Run: npm run build && node bench/client-bench.mjs
// Numbers depend on the machine; they are for spotting regressions, not targets.

import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider, splitUpdate } from '../dist/index.js';
import { startFakes } from '../test/fakes.mjs';

async function opsThroughFakes(count) {
  const fakes = await startFakes();
  const doc = new Y.Doc();
  const provider = new CollabProvider(doc, 'bench-doc', {
    writeUrl: fakes.writeUrl,
    readUrl: fakes.readUrl,
    token: 'token-alice',
    WebSocket,
    batch: { maxChars: 1 }, // every keystroke is its own op
  });
  await new Promise((resolve) => provider.once('synced', resolve));
  const text = doc.getText('t');
  const start = performance.now();
  for (let i = 0; i < count; i++) text.insert(text.length, 'x');
  await provider.flush();
  const seconds = (performance.now() - start) / 1000;
  await provider.destroy();
  await fakes.close();
  return count / seconds;
}

function splitSpeed(megabytes, limit) {
  const doc = new Y.Doc();
  const line = 'lorem ipsum dolor sit amet 😀 ';
  doc.getText('t').insert(0, line.repeat(Math.ceil((megabytes * 1024 * 1024) / line.length)));
  const update = Y.encodeStateAsUpdate(doc);
  const start = performance.now();
  const pieces = splitUpdate(update, limit);
  const seconds = (performance.now() - start) / 1000;
  return {
    bytes: update.length,
    pieces: pieces.length,
    mbPerSecond: update.length / 1048576 / seconds,
  };
}

const ops = await opsThroughFakes(5000);
console.log(
  `acked ops/s through the in-process fakes (1 op per keystroke, 5000 ops): ${ops.toFixed(0)}`,
);
const split = splitSpeed(8, 1024 * 1024);
console.log(
  `split ${(split.bytes / 1048576).toFixed(1)} MiB into ${split.pieces} pieces of <= 1 MiB: ${split.mbPerSecond.toFixed(1)} MiB/s`,
);
const small = splitSpeed(2, 16 * 1024);
console.log(
  `split ${(small.bytes / 1048576).toFixed(1)} MiB into ${small.pieces} pieces of <= 16 KiB: ${small.mbPerSecond.toFixed(1)} MiB/s`,
);
