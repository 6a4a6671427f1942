// Batching rules of seed 001 with a controllable clock: a pause, the
// maximum delay and the character threshold each send one merged update.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as Y from 'yjs';

import { UpdateBatcher, changedCharacters } from '../dist/index.js';
import { ManualTimers } from './fakes.mjs';

function setup(options) {
  const timers = new ManualTimers();
  const sent = [];
  const batcher = new UpdateBatcher(
    timers,
    (update, reason) => sent.push({ update, reason, at: timers.now() }),
    options,
  );
  const doc = new Y.Doc();
  doc.on('update', (u) => batcher.add(u));
  const text = doc.getText('t');
  return { timers, sent, batcher, doc, text };
}

/** The text a list of updates produces on a fresh doc. */
function replay(updates) {
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, u);
  return doc.getText('t').toString();
}

test('a pause of 200 ms sends the batch as one update', () => {
  const { timers, sent, text } = setup();
  for (const ch of 'hello') {
    text.insert(text.length, ch);
    timers.advance(100); // typing: never 200 ms without a key
  }
  assert.equal(sent.length, 0);
  timers.advance(99);
  assert.equal(sent.length, 0);
  timers.advance(1);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].reason, 'pause');
  assert.equal(replay([sent[0].update]), 'hello');
});

test('continuous typing is sent at the latest every 2 s', () => {
  const { timers, sent, text } = setup({ maxChars: 1000 });
  const start = timers.now();
  for (let i = 0; i < 50; i++) {
    text.insert(text.length, 'a');
    timers.advance(150);
  }
  const deadlines = sent.filter((s) => s.reason === 'max_delay');
  assert.ok(deadlines.length >= 3, `expected max_delay sends, got ${sent.map((s) => s.reason)}`);
  assert.equal(deadlines[0].at - start, 2000);
  timers.advance(200);
  assert.equal(replay(sent.map((s) => s.update)), 'a'.repeat(50));
});

test('20 changed characters send at once', () => {
  const { timers, sent, text } = setup();
  text.insert(0, 'x'.repeat(19));
  assert.equal(sent.length, 0);
  text.insert(0, 'y');
  assert.equal(sent.length, 1);
  assert.equal(sent[0].reason, 'max_chars');
  // Deletions count too.
  text.delete(0, 20);
  assert.equal(sent.length, 2);
  timers.advance(5000);
  assert.equal(sent.length, 2, 'no timer left over after a threshold send');
  assert.equal(replay(sent.map((s) => s.update)), '');
});

test('options are configurable and validated', () => {
  const { timers, sent, text } = setup({ pauseMs: 10, maxDelayMs: 50, maxChars: 3 });
  text.insert(0, 'ab');
  timers.advance(10);
  assert.equal(sent.length, 1);
  text.insert(0, 'abc');
  assert.equal(sent.length, 2);
  assert.throws(() => new UpdateBatcher(timers, () => {}, { pauseMs: -1 }), RangeError);
});

test('changedCharacters counts inserts and deletes in UTF-16 units', () => {
  const doc = new Y.Doc();
  const updates = [];
  doc.on('update', (u) => updates.push(u));
  doc.getText('t').insert(0, 'héllo😀');
  doc.getText('t').delete(1, 2);
  assert.equal(changedCharacters(updates[0]), 7);
  assert.equal(changedCharacters(updates[1]), 2);
});
