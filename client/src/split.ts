// Splitting a Yjs update (format v1) that is larger than the server accepts
// (HELLO's max_message_bytes) into several smaller updates. Applied in order
// they have exactly the effect of the original. Yjs has no public "split",
// so this decodes the update (Y.decodeUpdate), cuts oversized items the same
// way Yjs itself splits items while editing, and re-encodes the pieces with
// Yjs' own encoder and struct writers; see docs/decisions.md ("client").

import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

type Struct = Y.Item | Y.GC | Y.Skip;

/** One struct, or a cut of one, and its encoded size. */
interface Unit {
  struct: Y.Item | Y.GC;
  client: number;
  clock: number;
  length: number;
  bytes: number;
}

interface DeleteRange {
  client: number;
  clock: number;
  len: number;
}

/** An update that cannot be cut below the limit (one binary or embed larger than it). */
export class UpdateTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpdateTooLargeError';
  }
}

function encodedSize(struct: Y.Item | Y.GC): number {
  const encoder = new Y.UpdateEncoderV1();
  struct.write(encoder, 0);
  return encoder.toUint8Array().length;
}

/** A copy of `item` holding only content [start, end), as Yjs' own splitItem would cut it. */
function cutItem(item: Y.Item, start: number, end: number): Y.Item {
  const content = item.content.copy();
  if (end < item.length) {
    content.splice(end);
  }
  const kept = start > 0 ? content.splice(start) : content;
  const origin = start > 0 ? Y.createID(item.id.client, item.id.clock + start - 1) : item.origin;
  // A cut that starts inside the item has an origin, so its parent is never
  // written; the first cut keeps the item's own parent information.
  return new Y.Item(
    Y.createID(item.id.client, item.id.clock + start),
    null,
    origin,
    null,
    item.rightOrigin,
    item.parent,
    item.parentSub,
    kept,
  );
}

/** Content whose items Yjs can split at any position. */
function isSplittable(item: Y.Item): boolean {
  return (
    item.content instanceof Y.ContentString ||
    item.content instanceof Y.ContentAny ||
    item.content instanceof Y.ContentJSON ||
    item.content instanceof Y.ContentDeleted
  );
}

/** Never end a cut of a string between the two halves of a surrogate pair. */
function safeCut(item: Y.Item, at: number): number {
  if (item.content instanceof Y.ContentString) {
    const code = item.content.str.charCodeAt(at - 1);
    if (code >= 0xd800 && code <= 0xdbff) {
      return at - 1;
    }
  }
  return at;
}

function toUnits(structs: Struct[], budget: number): Unit[] {
  const units: Unit[] = [];
  for (const struct of structs) {
    if (struct instanceof Y.Skip) {
      continue; // gaps are re-created per piece
    }
    const bytes = encodedSize(struct);
    const unit = { client: struct.id.client, clock: struct.id.clock, length: struct.length };
    if (bytes <= budget || !(struct instanceof Y.Item)) {
      units.push({ ...unit, struct, bytes });
      continue;
    }
    if (!isSplittable(struct)) {
      throw new UpdateTooLargeError(
        `one ${struct.content.constructor.name} of ${bytes} bytes exceeds the limit of ${budget}`,
      );
    }
    // Content bytes per unit of length, to size the cuts; a string of
    // multi-byte characters gets smaller cuts, checked below.
    let start = 0;
    while (start < struct.length) {
      let take = Math.max(1, Math.floor((struct.length * (budget - 64)) / bytes));
      let cut: Y.Item;
      for (;;) {
        let end = Math.min(struct.length, start + take);
        if (end < struct.length) {
          end = Math.max(start + 1, safeCut(struct, end));
        }
        cut = cutItem(struct, start, end);
        const cutBytes = encodedSize(cut);
        if (cutBytes <= budget) {
          units.push({
            struct: cut,
            client: struct.id.client,
            clock: struct.id.clock + start,
            length: end - start,
            bytes: cutBytes,
          });
          start = end;
          break;
        }
        if (take === 1) {
          throw new UpdateTooLargeError(`one element of ${cutBytes} bytes exceeds ${budget}`);
        }
        take = Math.max(1, Math.floor(take / 2));
      }
    }
  }
  return units;
}

/** Writes one update (v1) holding `units` (in clock order per client) and `deletes`. */
function encodePiece(units: Unit[], deletes: DeleteRange[]): Uint8Array {
  const encoder = new Y.UpdateEncoderV1();
  const byClient = new Map<number, Unit[]>();
  for (const unit of units) {
    const list = byClient.get(unit.client) ?? [];
    list.push(unit);
    byClient.set(unit.client, list);
  }
  encoding.writeVarUint(encoder.restEncoder, byClient.size);
  for (const [client, list] of byClient) {
    list.sort((a, b) => a.clock - b.clock);
    const structs: (Y.Item | Y.GC | Y.Skip)[] = [];
    let next = list[0]!.clock;
    for (const unit of list) {
      if (unit.clock > next) {
        structs.push(new Y.Skip(Y.createID(client, next), unit.clock - next));
      }
      structs.push(unit.struct);
      next = unit.clock + unit.length;
    }
    encoding.writeVarUint(encoder.restEncoder, structs.length);
    encoder.writeClient(client);
    encoding.writeVarUint(encoder.restEncoder, list[0]!.clock);
    for (const struct of structs) {
      struct.write(encoder, 0);
    }
  }
  const dsByClient = new Map<number, DeleteRange[]>();
  for (const range of deletes) {
    const list = dsByClient.get(range.client) ?? [];
    list.push(range);
    dsByClient.set(range.client, list);
  }
  encoding.writeVarUint(encoder.restEncoder, dsByClient.size);
  for (const [client, ranges] of dsByClient) {
    encoding.writeVarUint(encoder.restEncoder, client);
    encoding.writeVarUint(encoder.restEncoder, ranges.length);
    for (const range of ranges) {
      encoding.writeVarUint(encoder.restEncoder, range.clock);
      encoding.writeVarUint(encoder.restEncoder, range.len);
    }
  }
  return encoder.toUint8Array();
}

// Bytes a piece adds around its structs and delete ranges, at most: counts
// (varUint) and per client its id and first clock.
const PIECE_HEADER_BYTES = 16;
const CLIENT_HEADER_BYTES = 24;
const DELETE_RANGE_MAX_BYTES = 16;
// Per struct: a Skip that may fill a gap in front of it.
const STRUCT_SLACK_BYTES = 8;

/**
 * Splits `update` into updates of at most `maxBytes` bytes each; returns
 * `[update]` itself when it already fits. The pieces are new buffers owned by
 * the caller. Throws UpdateTooLargeError when a single unsplittable element
 * (a binary, an embed, a type) is larger than `maxBytes`, and RangeError for a
 * limit too small to carry anything.
 */
export function splitUpdate(update: Uint8Array, maxBytes: number): Uint8Array[] {
  if (update.length <= maxBytes) {
    return [update];
  }
  if (maxBytes < 256) {
    throw new RangeError(`cannot split updates into pieces of ${maxBytes} bytes`);
  }
  const budget = maxBytes - PIECE_HEADER_BYTES - CLIENT_HEADER_BYTES - STRUCT_SLACK_BYTES;
  const decoded = Y.decodeUpdate(update);
  const units = toUnits(decoded.structs as Struct[], budget);
  const deletes: DeleteRange[] = [];
  for (const [client, ranges] of decoded.ds.clients) {
    for (const range of ranges) {
      deletes.push({ client, clock: range.clock, len: range.len });
    }
  }

  const pieces: Uint8Array[] = [];
  let current: Unit[] = [];
  let clients = new Set<number>();
  let size = PIECE_HEADER_BYTES;
  for (const unit of units) {
    let extra =
      unit.bytes + STRUCT_SLACK_BYTES + (clients.has(unit.client) ? 0 : CLIENT_HEADER_BYTES);
    if (current.length > 0 && size + extra > maxBytes) {
      pieces.push(encodePiece(current, []));
      current = [];
      clients = new Set();
      size = PIECE_HEADER_BYTES;
      extra = unit.bytes + STRUCT_SLACK_BYTES + CLIENT_HEADER_BYTES;
    }
    current.push(unit);
    clients.add(unit.client);
    size += extra;
  }
  // The delete set rides on the last struct piece, spilling into more pieces
  // when it is large itself. Deletes may refer to structs of earlier pieces,
  // which is why they come last.
  let ranges: DeleteRange[] = [];
  for (const range of deletes) {
    if (size + DELETE_RANGE_MAX_BYTES + CLIENT_HEADER_BYTES > maxBytes) {
      pieces.push(encodePiece(current, ranges));
      current = [];
      ranges = [];
      size = PIECE_HEADER_BYTES;
    }
    ranges.push(range);
    size += DELETE_RANGE_MAX_BYTES + CLIENT_HEADER_BYTES;
  }
  if (current.length > 0 || ranges.length > 0) {
    pieces.push(encodePiece(current, ranges));
  }
  for (const piece of pieces) {
    if (piece.length > maxBytes) {
      // The size bookkeeping above is an upper bound; this guards the bound.
      throw new Error(`internal: split piece of ${piece.length} bytes exceeds ${maxBytes}`);
    }
  }
  return pieces;
}
