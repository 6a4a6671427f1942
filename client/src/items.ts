// Items on the client: parsing the item state JSON the broadcaster sends in
// ITEM messages (processor/README-items.md, "Serialised forms") and the
// clocks the client attaches to its own writes and resolutions. No I/O: the
// provider keeps the states and sends the operations.

import { fromBase64 } from 'lib0/buffer';

import { type VectorClock, clockFromJson, clockGet, clockMerge, clockWith } from './vclock.js';

export const MAX_ITEM_VALUE_BYTES = 64 * 1024;
const MAX_ITEM_ID_BYTES = 256;

export interface ItemVersion {
  value: Uint8Array;
  clock: VectorClock;
  timestampMs: number;
  clientId: number;
}

export interface ItemState {
  itemId: string;
  policy: 'manual' | 'lww';
  version: number;
  revision: number;
  /** Merge of every sibling's clock. */
  clock: VectorClock;
  /** True while a `manual` item holds concurrent values nobody resolved. */
  conflict: boolean;
  /** The current value; null while in conflict or never written. */
  value: Uint8Array | null;
  /** Every version no other version has seen; more than one after concurrent writes. */
  siblings: ItemVersion[];
}

function field<T>(obj: Record<string, unknown>, name: string, check: (v: unknown) => v is T): T {
  const value = obj[name];
  if (!check(value)) {
    throw new Error(`item state: field "${name}" is missing or has the wrong type`);
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isUint = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error('item state: value_base64 is not base64');
  }
  return fromBase64(text);
}

/**
 * Parses the item state JSON of an ITEM message. Throws an Error naming the
 * first problem; nothing is kept from a state that fails.
 */
export function parseItemState(json: string): ItemState {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`item state is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) {
    throw new Error('item state must be a JSON object');
  }
  const policy = field(raw, 'policy', isString);
  if (policy !== 'manual' && policy !== 'lww') {
    throw new Error(`item state: unknown policy ${JSON.stringify(policy)}`);
  }
  const rawSiblings = field(raw, 'siblings', Array.isArray);
  const siblings = rawSiblings.map((s: unknown): ItemVersion => {
    if (!isObject(s)) {
      throw new Error('item state: a sibling is not an object');
    }
    return {
      value: decodeBase64(field(s, 'value_base64', isString)),
      clock: clockFromJson(s['vector_clock']),
      timestampMs: field(s, 'timestamp_ms', isUint),
      clientId: field(s, 'client_id', isUint),
    };
  });
  const conflict = field(raw, 'conflict', isBool);
  const current = raw['value_base64'];
  let value: Uint8Array | null = null;
  if (typeof current === 'string') {
    value = decodeBase64(current);
  } else if (current !== null && current !== undefined) {
    throw new Error('item state: value_base64 must be a string or null');
  }
  return {
    itemId: field(raw, 'item_id', isString),
    policy,
    version: field(raw, 'version', isUint),
    revision: field(raw, 'revision', isUint),
    clock: clockFromJson(raw['vector_clock']),
    conflict,
    value: conflict ? null : value,
    siblings,
  };
}

/** Throws when an item id or value would be refused by the server (README-items.md). */
export function checkItemInput(itemId: string, value: Uint8Array): void {
  const idBytes = new TextEncoder().encode(itemId).length;
  if (idBytes === 0 || idBytes > MAX_ITEM_ID_BYTES || /\p{Cc}/u.test(itemId)) {
    throw new Error('item id must be 1-256 bytes of UTF-8 without control characters');
  }
  if (value.length > MAX_ITEM_VALUE_BYTES) {
    throw new Error(`item value is ${value.length} bytes; at most ${MAX_ITEM_VALUE_BYTES}`);
  }
}

/**
 * The clock of a new write by `deviceId`: everything this client has seen of
 * the item, with its own entry above any counter it used before (`lastCounter`,
 * kept per device so that writes made before a reload stay below).
 */
export function clockForWrite(
  known: VectorClock,
  deviceId: number,
  lastCounter: number,
): VectorClock {
  const counter = Math.max(clockGet(known, deviceId), lastCounter) + 1;
  return clockWith(known, deviceId, counter);
}

/** The clock of a resolution: the merge of every sibling's, so it dominates all of them. */
export function clockForResolve(state: ItemState): VectorClock {
  return clockMerge(state.clock, ...state.siblings.map((s) => s.clock));
}
