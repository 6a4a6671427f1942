// Seeded pseudo-random numbers for the differential tests. Every random choice a
// session makes comes from one of these generators, so a failing session is
// reproduced exactly from the seed printed with the failure (see README.md).
// The generator is sfc32 (small fast counter), seeded through splitmix32 so that
// neighbouring seeds give unrelated streams.

function splitmix32 (state) {
  let z = (state + 0x9e3779b9) >>> 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
  return (z ^ (z >>> 16)) >>> 0
}

export class Prng {
  /** @param {number} seed any 32-bit unsigned integer */
  constructor (seed) {
    this.seed = seed >>> 0
    let s = this.seed
    const next = () => { s = (s + 0x9e3779b9) >>> 0; return splitmix32(s) }
    this.a = next(); this.b = next(); this.c = next(); this.d = next()
    for (let i = 0; i < 12; i++) this.uint32()
  }

  /** @returns {number} uniform in [0, 2^32) */
  uint32 () {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** @returns {number} uniform in [0, 1) */
  float () {
    return this.uint32() / 4294967296
  }

  /** @returns {number} integer uniform in [lo, hi] (inclusive) */
  int (lo, hi) {
    return lo + Math.floor(this.float() * (hi - lo + 1))
  }

  /** @returns {boolean} true with probability p */
  chance (p) {
    return this.float() < p
  }

  /** @returns one element of a non-empty array */
  pick (items) {
    return items[Math.floor(this.float() * items.length)]
  }

  /** Picks a key of `weights` ({name: weight}) with probability proportional to its weight. */
  weighted (weights) {
    const entries = Object.entries(weights).filter(([, w]) => w > 0)
    let total = 0
    for (const [, w] of entries) total += w
    let r = this.float() * total
    for (const [name, w] of entries) {
      r -= w
      if (r < 0) return name
    }
    return entries[entries.length - 1][0]
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle (items) {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1))
      const t = items[i]; items[i] = items[j]; items[j] = t
    }
    return items
  }

  /** A generator for a sub-task, derived from this one's stream. */
  fork () {
    return new Prng(this.uint32())
  }
}
