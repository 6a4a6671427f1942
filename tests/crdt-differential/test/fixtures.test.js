// The real Yjs updates in data/yjs-fixtures/ (written by yrs; see the README
// there) decode to their expected text through the CLI: b4-update.bin is v1
// (`merge`), S1/C1/C2 are v2 (`merge --v2`). The expected texts are the traces'
// endContent, repeated as the README says.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import * as Y from 'yjs'
import { Cli } from '../lib/cli.js'
import { readTrace } from '../lib/traces.js'

const dataDir = process.env.COLLAB_DATA_DIR ?? path.resolve(import.meta.dirname, '../../../data')
const fixtureDir = path.join(dataDir, 'yjs-fixtures')
const traceDir = path.join(dataDir, 'editing-traces')

const cli = new Cli()
test.after(() => cli.close())

const endContent = (name) => readTrace(path.join(traceDir, `${name}.json.gz`)).endContent

const fixtures = [
  { file: 'b4-update.bin', v2: false, trace: 'automerge-paper', times: 1 },
  { file: 'S1.yjs', v2: true, trace: 'automerge-paper', times: 3 },
  { file: 'C1.yjs', v2: true, trace: 'friendsforever', times: 25 },
  { file: 'C2.yjs', v2: true, trace: 'clownschool', times: 25 }
]

for (const f of fixtures) {
  test(`fixture ${f.file} (${f.v2 ? 'v2' : 'v1'}) decodes to ${f.trace} x${f.times}`, async () => {
    const expected = endContent(f.trace).repeat(f.times)
    const input = path.join(fixtureDir, f.file)
    const out = cli.file('fixture-state.bin')
    await cli.run(['merge', ...(f.v2 ? ['--v2'] : []), out, input])
    const json = await cli.json(out, [{ name: 'text', kind: 'text' }])
    assert.equal(json.text.length, expected.length, 'text length')
    assert.ok(json.text === expected, 'text equals the expected content')
    // The engine's v1 state, read by Yjs, holds the same text.
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(fs.readFileSync(out)))
    assert.ok(doc.getText('text').toString() === expected, 'engine state decoded by Yjs')
  })
}

test('a truncated fixture is rejected with a one-line reason and a non-zero exit', async () => {
  const bytes = fs.readFileSync(path.join(fixtureDir, 'b4-update.bin'))
  const input = cli.put('truncated.bin', bytes.subarray(0, Math.floor(bytes.length / 2)))
  const out = cli.file('never-written.bin')
  const { code, stderr } = await cli.runStatus(['merge', out, input])
  assert.notEqual(code, 0, 'exit status')
  assert.equal(stderr.trim().split('\n').length, 1, `one line on stderr, got ${JSON.stringify(stderr)}`)
  assert.ok(stderr.trim().length > 0, 'a reason on stderr')
})
