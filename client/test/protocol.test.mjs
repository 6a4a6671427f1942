// The client's wire codec against the test fakes' independent codec
// (docs/protocol.md): every message kind both ways, and malformed frames.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ProtocolError,
  decodeBroadcasterMessage,
  decodeIngestMessage,
  encodeClientMessage,
} from '../dist/index.js';
import { decodeClientFrame, wire } from './fakes.mjs';

test('client messages decode with the protocol page codec', () => {
  const update = new Uint8Array([0, 0]);
  const u = decodeClientFrame(
    encodeClientMessage({
      type: 'update',
      opId: 'op-1',
      clientId: 4294967295,
      clientTimeMs: 1716035760000,
      update,
    }),
  );
  assert.deepEqual(u, {
    type: 'update',
    opId: 'op-1',
    clientId: 4294967295,
    clientTimeMs: 1716035760000,
    update,
  });

  const w = decodeClientFrame(
    encodeClientMessage({
      type: 'item_resolve',
      opId: 'x',
      clientId: 7,
      clientTimeMs: 1,
      itemId: 'item16',
      value: new TextEncoder().encode('val16_Aval16_B'),
      clock: [
        [1, 2],
        [2, 2],
      ],
    }),
  );
  assert.equal(w.type, 'item_resolve');
  assert.equal(w.itemId, 'item16');
  assert.deepEqual(w.clock, [
    [1, 2],
    [2, 2],
  ]);
  assert.equal(new TextDecoder().decode(w.value), 'val16_Aval16_B');

  const a = decodeClientFrame(
    encodeClientMessage({ type: 'awareness', update: new Uint8Array([1, 2, 3]) }),
  );
  assert.deepEqual(a, { type: 'awareness', update: new Uint8Array([1, 2, 3]) });
});

test('values the protocol cannot carry are refused before sending', () => {
  const base = {
    type: 'item_write',
    opId: 'a',
    clientId: 1,
    clientTimeMs: 1,
    itemId: 'i',
    value: new Uint8Array(),
  };
  assert.throws(
    () =>
      encodeClientMessage({
        ...base,
        clock: [
          [2, 1],
          [1, 1],
        ],
      }),
    ProtocolError,
  );
  assert.throws(() => encodeClientMessage({ ...base, clock: [[1, 0]] }), ProtocolError);
  assert.throws(() => encodeClientMessage({ ...base, opId: '', clock: [] }), ProtocolError);
  assert.throws(
    () => encodeClientMessage({ ...base, opId: 'x'.repeat(65), clock: [] }),
    ProtocolError,
  );
  assert.throws(
    () => encodeClientMessage({ ...base, opId: 'has space', clock: [] }),
    ProtocolError,
  );
  assert.throws(() => encodeClientMessage({ ...base, clientId: -1, clock: [] }), ProtocolError);
  assert.throws(
    () => encodeClientMessage({ ...base, clientTimeMs: 2 ** 53, clock: [] }),
    ProtocolError,
  );
});

test('server messages decode', () => {
  assert.deepEqual(decodeIngestMessage(wire.hello('c1', 1048576, 500)), {
    type: 'hello',
    connectionId: 'c1',
    maxMessageBytes: 1048576,
    maxOpsPerSecond: 500,
  });
  assert.deepEqual(decodeIngestMessage(wire.ack('op', 3, 123456789)), {
    type: 'ack',
    opId: 'op',
    partition: 3,
    offset: 123456789,
  });
  assert.deepEqual(decodeIngestMessage(wire.nack('op', 'rate_limited', 'slow down', 250)), {
    type: 'nack',
    opId: 'op',
    code: 'rate_limited',
    message: 'slow down',
    retryAfterMs: 250,
  });
  assert.deepEqual(decodeBroadcasterMessage(wire.merged(7, 'op', 99, new Uint8Array([5]))), {
    type: 'merged',
    version: 7,
    opId: 'op',
    ingestTimeMs: 99,
    update: new Uint8Array([5]),
  });
  assert.deepEqual(decodeBroadcasterMessage(wire.item(8, 'op', 99, '{}')), {
    type: 'item',
    version: 8,
    opId: 'op',
    ingestTimeMs: 99,
    itemJson: '{}',
  });
  assert.deepEqual(decodeBroadcasterMessage(wire.resync('slow')), {
    type: 'resync',
    reason: 'slow',
  });
  assert.deepEqual(decodeBroadcasterMessage(wire.synced(300)), { type: 'synced', version: 300 });
  assert.deepEqual(decodeBroadcasterMessage(wire.state(0, new Uint8Array([0, 0]))), {
    type: 'state',
    version: 0,
    update: new Uint8Array([0, 0]),
  });
  assert.deepEqual(decodeBroadcasterMessage(wire.error('slow_consumer', 'bye')), {
    type: 'error',
    code: 'slow_consumer',
    message: 'bye',
  });
});

test('malformed frames are ProtocolErrors', () => {
  const ack = wire.ack('op', 1, 2);
  const cases = [
    ['empty', new Uint8Array()],
    ['truncated', ack.subarray(0, ack.length - 1)],
    ['trailing byte', new Uint8Array([...ack, 0])],
    ['unknown type', new Uint8Array([99])],
    ['broadcaster type on write link', wire.state(1, new Uint8Array())],
    ['length past end', new Uint8Array([33, 200, 1, 65])],
    ['invalid UTF-8', new Uint8Array([33, 2, 0xc3, 0x28, 0, 0])],
    [
      'varUint over 2^53',
      new Uint8Array([33, 1, 65, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    ],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => decodeIngestMessage(bytes), ProtocolError, name);
  }
  // A view into a larger buffer must not read beyond the view.
  const big = new Uint8Array([48, 1, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.throws(() => decodeBroadcasterMessage(big.subarray(0, 5)), ProtocolError);
  assert.throws(() => decodeBroadcasterMessage(new Uint8Array([17])), ProtocolError);
});
