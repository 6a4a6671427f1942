// Splitting updates larger than max_message_bytes: every piece fits, and the
// pieces applied in order give exactly the document the original gives.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as Y from 'yjs';

import { UpdateTooLargeError, splitUpdate } from '../dist/index.js';

function contentOf(doc) {
  return {
    text: doc.getText('t').toString(),
    array: JSON.stringify(doc.getArray('a').toJSON()),
    map: JSON.stringify(doc.getMap('m').toJSON()),
    sv: Buffer.from(Y.encodeStateVector(doc)).toString('hex'),
    ds: JSON.stringify([...Y.createDeleteSetFromStructStore(doc.store).clients]),
  };
}

function check(update, base, limit) {
  const pieces = splitUpdate(update, limit);
  const expected = new Y.Doc();
  const actual = new Y.Doc();
  if (base) {
    Y.applyUpdate(expected, base);
    Y.applyUpdate(actual, base);
  }
  Y.applyUpdate(expected, update);
  for (const piece of pieces) {
    assert.ok(piece.length <= limit, `piece of ${piece.length} bytes > ${limit}`);
    Y.applyUpdate(actual, piece);
  }
  assert.equal(actual.store.pendingStructs, null, 'nothing left pending');
  assert.deepEqual(contentOf(actual), contentOf(expected));
  return pieces;
}

test('an update that fits is returned as it is', () => {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, 'small');
  const update = Y.encodeStateAsUpdate(doc);
  const pieces = splitUpdate(update, 1024);
  assert.equal(pieces.length, 1);
  assert.equal(pieces[0], update);
});

test('a big paste with emoji, arrays, maps and deletes splits losslessly', () => {
  const doc = new Y.Doc();
  const text = doc.getText('t');
  text.insert(0, 'hello world '.repeat(2000) + '😀'.repeat(3000));
  doc.getArray('a').insert(
    0,
    Array.from({ length: 500 }, (_, i) => ({ i, s: 'x'.repeat(20) })),
  );
  const base = Y.encodeStateAsUpdate(doc);
  const sv = Y.encodeStateVector(doc);
  text.delete(5, 3000);
  for (let i = 0; i < 300; i++) text.delete(i * 3, 1);
  text.insert(100, 'Z'.repeat(9000));
  doc.getMap('m').set('k', 'v'.repeat(1000));
  const whole = check(Y.encodeStateAsUpdate(doc), null, 2048);
  assert.ok(whole.length > 10, `expected many pieces, got ${whole.length}`);
  const delta = check(Y.encodeStateAsUpdate(doc, sv), base, 2048);
  assert.ok(delta.length > 3);
});

test('concurrent clients and a large delete set', () => {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.getText('t').insert(0, 'a'.repeat(5000));
  b.getText('t').insert(0, 'b'.repeat(5000));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
  for (let i = 0; i < 2000; i++) a.getText('t').delete(i * 4, 1);
  check(Y.encodeStateAsUpdate(a), null, 512);
});

test('one element larger than the limit cannot be split', () => {
  const doc = new Y.Doc();
  doc.getMap('m').set('blob', new Uint8Array(5000));
  assert.throws(() => splitUpdate(Y.encodeStateAsUpdate(doc), 2048), UpdateTooLargeError);
  assert.throws(() => splitUpdate(new Uint8Array(300), 100), RangeError);
});
