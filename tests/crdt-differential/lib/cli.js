// Runs the engine's command-line tool, build/bin/crdt-cli, the way the tests and
// tools use it (the CLI contract in crdt/README.md). Every call gets its own files
// in one scratch directory; calls may run concurrently (at most `parallel` at once)
// because each process is independent. A non-zero exit becomes an Error that keeps
// the command line and the tool's one-line reason on stderr.

import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function findCli () {
  const binDir = process.env.COLLAB_BIN_DIR
  if (!binDir) {
    throw new Error('COLLAB_BIN_DIR is not set: run through ctest, or export COLLAB_BIN_DIR=<build>/bin')
  }
  const cli = path.join(binDir, 'crdt-cli')
  if (!fs.existsSync(cli)) throw new Error(`crdt-cli not found at ${cli}: build the project first`)
  return cli
}

/** Encodes updates as the --stream format: records of [u32 little-endian length][bytes]. */
export function encodeStream (updates) {
  let total = 0
  for (const u of updates) total += 4 + u.length
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const u of updates) {
    out.writeUInt32LE(u.length, at)
    at += 4
    out.set(u, at)
    at += u.length
  }
  return out
}

export class Cli {
  constructor ({ cli = findCli(), parallel = Math.max(1, Math.min(2, os.availableParallelism())) } = {}) {
    this.cli = cli
    this.parallel = parallel
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crdt-diff-'))
    this.counter = 0
    this.running = 0
    this.queue = []
    this.calls = 0
  }

  /** Removes the scratch directory (kept when CRDT_DIFF_KEEP=1, for debugging a
   * failure: the failure messages name the files). Call once at the end. */
  close () {
    if (process.env.CRDT_DIFF_KEEP === '1') {
      console.error(`crdt-cli scratch files kept in ${this.dir}`)
      return
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
  }

  /** A fresh path in the scratch directory. */
  file (name) {
    this.counter++
    return path.join(this.dir, `${this.counter}-${name}`)
  }

  /** Writes bytes to a fresh scratch file and returns its path. */
  put (name, bytes) {
    const p = this.file(name)
    fs.writeFileSync(p, bytes)
    return p
  }

  /**
   * Runs crdt-cli with `args`; resolves to {stdout, stderr} on exit status 0,
   * rejects with an Error naming the command and its stderr otherwise.
   */
  run (args) {
    return new Promise((resolve, reject) => {
      const start = () => {
        this.running++
        this.calls++
        execFile(this.cli, args, { maxBuffer: 1 << 30, encoding: 'utf8' }, (err, stdout, stderr) => {
          this.running--
          const next = this.queue.shift()
          if (next) next()
          if (err) {
            let command = args.join(' ')
            if (command.length > 200) command = `${command.slice(0, 200)}… (${args.length} arguments)`
            const e = new Error(`crdt-cli ${command} failed (${err.code ?? err.signal}): ${stderr.trim()}`)
            e.exitCode = err.code
            e.stderr = stderr
            reject(e)
          } else {
            resolve({ stdout, stderr })
          }
        })
      }
      if (this.running < this.parallel) start()
      else this.queue.push(start)
    })
  }

  /** Like run(), but resolves to {code, stdout, stderr} whatever the exit status. */
  runStatus (args) {
    return this.run(args).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e) => {
        if (e.exitCode === undefined) throw e
        return { code: e.exitCode, stdout: '', stderr: e.stderr }
      })
  }

  /** merge: applies `updates` in order to an empty doc; returns the v1 state bytes. */
  async merge (updates, { v2 = false, gc = true, stream = true } = {}) {
    const out = this.file('state.bin')
    const flags = []
    if (v2) flags.push('--v2')
    if (!gc) flags.push('--no-gc')
    if (stream) {
      const input = this.put('updates.stream', encodeStream(updates))
      await this.run(['merge', ...flags, '--stream', out, input])
    } else {
      const inputs = updates.map((u, i) => this.put(`update-${i}.bin`, u))
      await this.run(['merge', ...flags, out, ...inputs])
    }
    return new Uint8Array(fs.readFileSync(out))
  }

  /** json: content of the given roots ([{name, kind}]) as a parsed object. */
  async json (statePath, roots) {
    const { stdout } = await this.run(['json', statePath, ...roots.map(r => `${r.name}:${r.kind}`)])
    return JSON.parse(stdout)
  }

  /** sv: the state vector as a parsed object {"client": clock}. */
  async sv (statePath) {
    const { stdout } = await this.run(['sv', statePath])
    return JSON.parse(stdout)
  }

  /** delta: the toDelta() of a root text, parsed. */
  async delta (statePath, root) {
    const { stdout } = await this.run(['delta', statePath, root])
    return JSON.parse(stdout)
  }

  /** diff: the v1 update of what `statePath` has beyond the encoded state vector `sv`
   * (bytes, or the path of a file holding them). */
  async diff (statePath, sv) {
    const svPath = typeof sv === 'string' ? sv : this.put('sv.bin', sv)
    const out = this.file('diff.bin')
    await this.run(['diff', statePath, svPath, out])
    return new Uint8Array(fs.readFileSync(out))
  }

  /** encode: re-encodes a v1 state as v1 or v2. */
  async encode (statePath, { v2 = false } = {}) {
    const out = this.file(v2 ? 'state.v2' : 'state.v1')
    await this.run(['encode', ...(v2 ? ['--v2'] : []), statePath, out])
    return new Uint8Array(fs.readFileSync(out))
  }

  /** contains: whether the state already holds everything in `update`. */
  async contains (statePath, update) {
    const u = this.put('update.bin', update)
    const { stdout } = await this.run(['contains', statePath, u])
    const answer = stdout.trim()
    if (answer !== 'true' && answer !== 'false') throw new Error(`crdt-cli contains printed ${JSON.stringify(stdout)}`)
    return answer === 'true'
  }
}
