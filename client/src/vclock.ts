// Vector clocks for items, as processor/README-items.md defines them: a clock
// maps a client id (one sequential writer: this device) to a counter. Kept as
// sorted [clientId, counter] pairs without zero counters, the canonical form
// the protocol's `clock` field carries. Pure functions; every result is new.

export type VectorClock = ReadonlyArray<readonly [clientId: number, counter: number]>;

export const MAX_CLOCK_ENTRIES = 1024;

/** Entry of `clientId` in `clock`, 0 when absent. */
export function clockGet(clock: VectorClock, clientId: number): number {
  for (const [id, counter] of clock) {
    if (id === clientId) {
      return counter;
    }
  }
  return 0;
}

/** The entry-wise maximum of the clocks. */
export function clockMerge(...clocks: VectorClock[]): VectorClock {
  const merged = new Map<number, number>();
  for (const clock of clocks) {
    for (const [id, counter] of clock) {
      merged.set(id, Math.max(merged.get(id) ?? 0, counter));
    }
  }
  return normalise(merged);
}

/** `clock` with the entry of `clientId` set to `counter`. */
export function clockWith(clock: VectorClock, clientId: number, counter: number): VectorClock {
  const map = new Map<number, number>(clock.map(([id, c]) => [id, c]));
  map.set(clientId, counter);
  return normalise(map);
}

/** True when `a` >= `b` in every entry (a has seen everything b has). */
export function clockDominates(a: VectorClock, b: VectorClock): boolean {
  return b.every(([id, counter]) => clockGet(a, id) >= counter);
}

/**
 * Reads the JSON form (`{"1": 2, "7": 1}`, decimal client id -> counter);
 * throws an Error naming the problem for anything else.
 */
export function clockFromJson(json: unknown): VectorClock {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('vector clock must be a JSON object');
  }
  const map = new Map<number, number>();
  for (const [key, counter] of Object.entries(json)) {
    const id = Number(key);
    if (!/^(0|[1-9][0-9]*)$/.test(key) || !Number.isSafeInteger(id)) {
      throw new Error(`vector clock key is not a client id: ${JSON.stringify(key)}`);
    }
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) {
      throw new Error(`vector clock counter of ${key} is not a non-negative integer`);
    }
    map.set(id, counter);
  }
  return normalise(map);
}

/** The JSON form, as the processor writes it. */
export function clockToJson(clock: VectorClock): Record<string, number> {
  const json: Record<string, number> = {};
  for (const [id, counter] of clock) {
    json[String(id)] = counter;
  }
  return json;
}

function normalise(map: Map<number, number>): VectorClock {
  return [...map.entries()].filter(([, counter]) => counter > 0).sort((x, y) => x[0] - y[0]);
}
