// Vector clocks and the item state JSON of processor/README-items.md.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  clockDominates,
  clockForResolve,
  clockForWrite,
  clockFromJson,
  clockMerge,
  clockToJson,
  parseItemState,
} from '../dist/index.js';

const b64 = (s) => Buffer.from(s).toString('base64');

// The seeds' item16 in conflict: A wrote [2,0,0], B wrote [1,2,0].
const conflict = {
  item_id: 'item16',
  policy: 'manual',
  version: 2,
  revision: 3,
  vector_clock: { 1: 2, 2: 2 },
  conflict: true,
  value_base64: null,
  timestamp_ms: null,
  client_id: null,
  siblings: [
    {
      value_base64: b64('val16_A'),
      vector_clock: { 1: 2 },
      timestamp_ms: 1716035760000,
      client_id: 1,
    },
    {
      value_base64: b64('val16_B'),
      vector_clock: { 1: 1, 2: 2 },
      timestamp_ms: 1716035761000,
      client_id: 2,
    },
  ],
};

test('clock operations', () => {
  assert.deepEqual(
    clockMerge(
      [[1, 2]],
      [
        [1, 1],
        [2, 2],
      ],
    ),
    [
      [1, 2],
      [2, 2],
    ],
  );
  assert.ok(
    clockDominates(
      [
        [1, 2],
        [2, 2],
      ],
      [
        [1, 1],
        [2, 2],
      ],
    ),
  );
  assert.ok(
    !clockDominates(
      [
        [1, 2],
        [2, 1],
      ],
      [
        [1, 1],
        [2, 2],
      ],
    ),
  );
  assert.deepEqual(clockFromJson({ 10: 1, 2: 3, 5: 0 }), [
    [2, 3],
    [10, 1],
  ]);
  assert.deepEqual(
    clockToJson([
      [1, 2],
      [2, 2],
    ]),
    { 1: 2, 2: 2 },
  );
  assert.throws(() => clockFromJson({ x: 1 }));
  assert.throws(() => clockFromJson({ 1: -1 }));
  assert.throws(() => clockFromJson([1]));
});

test('a write counts above everything seen and above earlier writes of this device', () => {
  assert.deepEqual(
    clockForWrite(
      [
        [1, 2],
        [2, 2],
      ],
      1,
      0,
    ),
    [
      [1, 3],
      [2, 2],
    ],
  );
  assert.deepEqual(clockForWrite([[1, 2]], 7, 5), [
    [1, 2],
    [7, 6],
  ]);
  assert.deepEqual(clockForWrite([[7, 9]], 7, 5), [[7, 10]]);
});

test('conflict JSON parses with every sibling; the resolve clock dominates them', () => {
  const state = parseItemState(JSON.stringify(conflict));
  assert.equal(state.conflict, true);
  assert.equal(state.value, null);
  assert.equal(state.siblings.length, 2);
  assert.equal(new TextDecoder().decode(state.siblings[1].value), 'val16_B');
  assert.deepEqual(state.siblings[1].clock, [
    [1, 1],
    [2, 2],
  ]);
  const clock = clockForResolve(state);
  assert.deepEqual(clock, [
    [1, 2],
    [2, 2],
  ]);
  for (const s of state.siblings) assert.ok(clockDominates(clock, s.clock));
});

test('bad item JSON is refused with a reason', () => {
  assert.throws(() => parseItemState('not json'), /not JSON/);
  assert.throws(() => parseItemState('[]'), /object/);
  assert.throws(() => parseItemState(JSON.stringify({ ...conflict, policy: 'x' })), /policy/);
  assert.throws(() => parseItemState(JSON.stringify({ ...conflict, version: -1 })), /version/);
  assert.throws(
    () =>
      parseItemState(
        JSON.stringify({
          ...conflict,
          siblings: [{ value_base64: '!!', vector_clock: {}, timestamp_ms: 1, client_id: 1 }],
        }),
      ),
    /base64/,
  );
});
