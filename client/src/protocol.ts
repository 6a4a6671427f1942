// Wire codec for docs/protocol.md: every message the client sends to ingest
// and every message it receives from ingest or the broadcaster, encoded with
// lib0 (the same varUint/varString/varBytes as y-protocols). Pure functions, no
// I/O; the provider and the test fakes' expectations are built on these.

import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

import { type VectorClock, MAX_CLOCK_ENTRIES } from './vclock.js';

export const MessageType = {
  awareness: 1,
  update: 16,
  itemWrite: 17,
  itemResolve: 18,
  hello: 32,
  ack: 33,
  nack: 34,
  error: 35,
  state: 48,
  merged: 49,
  item: 50,
  resync: 51,
  synced: 52,
} as const;

/** Largest integer a varUint may carry (exact in JavaScript). */
export const MAX_VAR_UINT = Number.MAX_SAFE_INTEGER;
const OP_ID_MAX_BYTES = 64;

export type ClientMessage =
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'update'; opId: string; clientId: number; clientTimeMs: number; update: Uint8Array }
  | {
      type: 'item_write' | 'item_resolve';
      opId: string;
      clientId: number;
      clientTimeMs: number;
      itemId: string;
      value: Uint8Array;
      clock: VectorClock;
    };

export type IngestMessage =
  | { type: 'hello'; connectionId: string; maxMessageBytes: number; maxOpsPerSecond: number }
  | { type: 'ack'; opId: string; partition: number; offset: number }
  | { type: 'nack'; opId: string; code: string; message: string; retryAfterMs: number }
  | { type: 'error'; code: string; message: string };

export type BroadcasterMessage =
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'state'; version: number; update: Uint8Array }
  | { type: 'merged'; version: number; opId: string; ingestTimeMs: number; update: Uint8Array }
  | { type: 'item'; version: number; opId: string; ingestTimeMs: number; itemJson: string }
  | { type: 'resync'; reason: string }
  | { type: 'synced'; version: number }
  | { type: 'error'; code: string; message: string };

/** A frame that does not follow docs/protocol.md; the caller answers with its own error. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function checkUint(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProtocolError(`${name} must be an integer in 0..2^53-1, got ${value}`);
  }
}

/** Op ids are 1-64 bytes of printable ASCII (docs/protocol.md). */
export function isValidOpId(opId: string): boolean {
  return opId.length >= 1 && opId.length <= OP_ID_MAX_BYTES && /^[\x21-\x7e]+$/.test(opId);
}

function writeClock(encoder: encoding.Encoder, clock: VectorClock): void {
  if (clock.length > MAX_CLOCK_ENTRIES) {
    throw new ProtocolError(`a clock has at most ${MAX_CLOCK_ENTRIES} entries`);
  }
  encoding.writeVarUint(encoder, clock.length);
  let previous = -1;
  for (const [clientId, counter] of clock) {
    checkUint('clock client id', clientId);
    checkUint('clock counter', counter);
    if (clientId <= previous || counter === 0) {
      throw new ProtocolError(
        'a clock must be sorted by client id, without repeats or zero counters',
      );
    }
    previous = clientId;
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, counter);
  }
}

/**
 * Encodes one client -> ingest message. Returns a new buffer owned by the
 * caller; throws ProtocolError for values the protocol cannot carry.
 */
export function encodeClientMessage(message: ClientMessage): Uint8Array {
  const encoder = encoding.createEncoder();
  switch (message.type) {
    case 'awareness':
      encoding.writeVarUint(encoder, MessageType.awareness);
      encoding.writeVarUint8Array(encoder, message.update);
      break;
    case 'update':
      encoding.writeVarUint(encoder, MessageType.update);
      writeOpHeader(encoder, message.opId, message.clientId, message.clientTimeMs);
      encoding.writeVarUint8Array(encoder, message.update);
      break;
    case 'item_write':
    case 'item_resolve':
      encoding.writeVarUint(
        encoder,
        message.type === 'item_write' ? MessageType.itemWrite : MessageType.itemResolve,
      );
      writeOpHeader(encoder, message.opId, message.clientId, message.clientTimeMs);
      encoding.writeVarString(encoder, message.itemId);
      encoding.writeVarUint8Array(encoder, message.value);
      writeClock(encoder, message.clock);
      break;
  }
  return encoding.toUint8Array(encoder);
}

function writeOpHeader(encoder: encoding.Encoder, opId: string, clientId: number, timeMs: number) {
  if (!isValidOpId(opId)) {
    throw new ProtocolError(
      `op id must be 1-64 printable ASCII characters: ${JSON.stringify(opId)}`,
    );
  }
  checkUint('client id', clientId);
  checkUint('client time', timeMs);
  encoding.writeVarString(encoder, opId);
  encoding.writeVarUint(encoder, clientId);
  encoding.writeVarUint(encoder, timeMs);
}

/**
 * Reads a frame with `read`, insisting that it consumes every byte. lib0
 * throws plain Errors on truncated input and oversized integers; all of them
 * become ProtocolError so callers have one thing to catch.
 */
function decodeWhole<T>(frame: Uint8Array, read: (d: decoding.Decoder, type: number) => T): T {
  const decoder = decoding.createDecoder(frame);
  let result: T;
  try {
    const type = decoding.readVarUint(decoder);
    result = read(decoder, type);
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw err;
    }
    throw new ProtocolError(`malformed frame: ${(err as Error).message}`);
  }
  if (decoding.hasContent(decoder)) {
    throw new ProtocolError(
      `malformed frame: ${frame.length - decoder.pos} bytes after the last field`,
    );
  }
  return result;
}

function readUint(decoder: decoding.Decoder): number {
  const value = decoding.readVarUint(decoder);
  if (!Number.isSafeInteger(value)) {
    throw new ProtocolError('integer larger than 2^53-1');
  }
  return value;
}

// lib0's readVarString decodes invalid UTF-8 into U+FFFD, and its
// readUint8Array trusts the length when the frame is a view into a larger
// buffer: check the length ourselves and decode strictly.
const utf8 = new TextDecoder('utf-8', { fatal: true });
function readString(decoder: decoding.Decoder): string {
  const bytes = readBytes(decoder);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ProtocolError('string is not valid UTF-8');
  }
}

function readBytes(decoder: decoding.Decoder): Uint8Array {
  const length = readUint(decoder);
  if (length > decoder.arr.length - decoder.pos) {
    throw new ProtocolError('length runs past the end of the frame');
  }
  return decoding.readUint8Array(decoder, length);
}

/** Decodes an ingest -> client frame; throws ProtocolError when it is not one. */
export function decodeIngestMessage(frame: Uint8Array): IngestMessage {
  return decodeWhole(frame, (d, type): IngestMessage => {
    switch (type) {
      case MessageType.hello:
        return {
          type: 'hello',
          connectionId: readString(d),
          maxMessageBytes: readUint(d),
          maxOpsPerSecond: readUint(d),
        };
      case MessageType.ack:
        return { type: 'ack', opId: readString(d), partition: readUint(d), offset: readUint(d) };
      case MessageType.nack:
        return {
          type: 'nack',
          opId: readString(d),
          code: readString(d),
          message: readString(d),
          retryAfterMs: readUint(d),
        };
      case MessageType.error:
        return { type: 'error', code: readString(d), message: readString(d) };
      default:
        throw new ProtocolError(`unknown message type ${type} on the write connection`);
    }
  });
}

/** Decodes a broadcaster -> client frame; throws ProtocolError when it is not one. */
export function decodeBroadcasterMessage(frame: Uint8Array): BroadcasterMessage {
  return decodeWhole(frame, (d, type): BroadcasterMessage => {
    switch (type) {
      case MessageType.awareness:
        return { type: 'awareness', update: readBytes(d) };
      case MessageType.state:
        return { type: 'state', version: readUint(d), update: readBytes(d) };
      case MessageType.merged:
        return {
          type: 'merged',
          version: readUint(d),
          opId: readString(d),
          ingestTimeMs: readUint(d),
          update: readBytes(d),
        };
      case MessageType.item:
        return {
          type: 'item',
          version: readUint(d),
          opId: readString(d),
          ingestTimeMs: readUint(d),
          itemJson: readString(d),
        };
      case MessageType.resync:
        return { type: 'resync', reason: readString(d) };
      case MessageType.synced:
        return { type: 'synced', version: readUint(d) };
      case MessageType.error:
        return { type: 'error', code: readString(d), message: readString(d) };
      default:
        throw new ProtocolError(`unknown message type ${type} on the read connection`);
    }
  });
}

/**
 * Bytes an UPDATE message adds around its update (type, op id, client id,
 * time, length prefix), at most: used to size pieces of a split update.
 */
export const UPDATE_ENVELOPE_MAX_BYTES = 1 + 1 + OP_ID_MAX_BYTES + 8 + 8 + 8;
