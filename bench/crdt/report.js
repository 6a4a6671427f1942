// Turns the JSON lines the peers printed (run.sh collects them in RESULTS_DIR) into
// the crdt section of docs/benchmarks.md, and prints that section. Only the text
// between the crdt markers is replaced; other benchmarks' sections stay as they are.
//
//   node report.js RESULTS_DIR DOCS_FILE

import fs from 'node:fs'
import path from 'node:path'

const [resultsDir, docsFile] = process.argv.slice(2)
if (!resultsDir || !docsFile) {
  console.error('usage: node report.js RESULTS_DIR DOCS_FILE')
  process.exit(2)
}

const BEGIN = '<!-- bench:crdt:begin (written by bench/crdt/run.sh; edits here are overwritten) -->'
const END = '<!-- bench:crdt:end -->'
const PEERS = ['engine', 'yjs', 'ywasm', 'pycrdt']
const PEER_NAMES = {
  engine: 'engine (C, this repo)',
  yjs: 'Yjs 13.6.33 (node)',
  ywasm: 'Yrs via ywasm 0.18.3 (node)',
  pycrdt: 'Yrs native via pycrdt 0.14.13'
}

/** The results of one measurement: its JSON lines (one per process) with the timing
 * series joined; null when it failed or did not run. */
function load (name) {
  const file = path.join(resultsDir, `${name}.json`)
  if (!fs.existsSync(file)) return null
  const runs = fs.readFileSync(file, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l))
  if (runs.length === 0) return null
  const joined = { ...runs[runs.length - 1] }
  for (const key of Object.keys(joined)) {
    if (Array.isArray(joined[key])) joined[key] = runs.flatMap(r => r[key])
  }
  return joined
}

const env = JSON.parse(fs.readFileSync(path.join(resultsDir, 'environment.json'), 'utf8'))

function sorted (xs) { return xs.slice().sort((a, b) => a - b) }
function median (xs) {
  const s = sorted(xs)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
/** Nearest-rank percentile; with fewer than 100 samples p99 is the maximum. */
function percentile (xs, p) {
  const s = sorted(xs)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}
function fmtMs (x) {
  if (x >= 100) return x.toFixed(0)
  if (x >= 10) return x.toFixed(1)
  return x.toFixed(2)
}
function series (xs) {
  if (!xs) return 'n/a'
  return `${fmtMs(median(xs))} (p99 ${fmtMs(percentile(xs, 99))}, min ${fmtMs(Math.min(...xs))})`
}
function fmtRatio (r) {
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`
}
/** Yjs over the peer: medians, and fastest runs (on a loaded machine noise only ever
 * adds time, so the fastest runs are the closest to the real cost). */
function ratio (base, x) {
  if (!base || !x) return 'n/a'
  return `${fmtRatio(median(base) / median(x))} (fastest ${fmtRatio(Math.min(...base) / Math.min(...x))})`
}
function mb (kb) { return (kb / 1024).toFixed(1) }
function bytes (n) { return n.toLocaleString('en-US') }

const lines = []
const out = (s = '') => lines.push(s)

out('## crdt engine vs Yjs and Yrs')
out()
out(`Measured by \`bench/crdt/run.sh\` on ${env.date}: ${env.cpu}, ${env.cores} cores; engine built in Release ` +
  `(-O2) with ${env.compiler}; node ${env.node}, Python ${env.python}. Each peer runs in its own process. ` +
  `Timings: ${env.rounds} rounds in which the peers take turns, each peer timing ${env.repeats} runs in a ` +
  `fresh process per round (the first run of a process includes warm-up); shown is the median of the ` +
  `${env.rounds * env.repeats} runs, with p99 ` +
  '(nearest rank: with this few runs, the slowest) and the fastest run, in milliseconds. "vs Yjs" is ' +
  'Yjs\'s median over the peer\'s median, and Yjs\'s fastest run over the peer\'s fastest. The machine was shared with other work while measuring, so ' +
  'absolute numbers move between runs; ratios from the same run are the comparable figures.')
out()

// (a)-(c): automerge-paper
const am = {}
const amMem = {}
for (const p of PEERS) {
  am[p] = load(`apply-automerge-paper-${p}`)
  amMem[p] = load(`memory-automerge-paper-${p}`)
}
out('### Sequential trace: automerge-paper as 259,778 single-edit Yjs updates')
out()
out('Every update applied in order to an empty document (what a server does), then the final state ' +
  'encoded as one v1 update, and that update loaded into a new document. Peak RSS: a separate run ' +
  'that reads the updates one by one from the file; "runtime" is the process\'s peak before the ' +
  'document existed (interpreter or VM), so peak minus runtime is what the document and its work cost.')
out()
out('| peer | apply ms | vs Yjs | encode ms | load ms | state bytes | peak RSS MB | runtime MB | peak - runtime MB |')
out('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const p of PEERS) {
  const r = am[p]
  const m = amMem[p]
  if (!r) { out(`| ${PEER_NAMES[p]} | failed | | | | | | | |`); continue }
  out(`| ${PEER_NAMES[p]} | ${series(r.apply_ms)} | ${ratio(am.yjs?.apply_ms, r.apply_ms)} | ` +
    `${series(r.encode_ms)} | ${series(r.load_ms)} | ${bytes(r.state_bytes)} | ` +
    `${m ? mb(m.peak_rss_kb) : 'n/a'} | ${m ? mb(m.baseline_rss_kb) : 'n/a'} | ` +
    `${m ? mb(m.peak_rss_kb - m.baseline_rss_kb) : 'n/a'} |`)
}
out()

// Targets
const engine = am.engine
const yjs = am.yjs
if (engine && yjs) {
  const speedup = median(yjs.apply_ms) / median(engine.apply_ms)
  const fastest = Math.min(...yjs.apply_ms) / Math.min(...engine.apply_ms)
  const rss = amMem.engine ? amMem.engine.peak_rss_kb / 1024 : NaN
  const verdict = (ok) => ok ? 'met' : '**missed**'
  out('Targets of issue 3 for this workload:')
  out()
  out(`- at least 25x faster than Yjs in the same run: ${speedup.toFixed(1)}x by medians ` +
    `(${verdict(speedup >= 25)}), ${fastest.toFixed(1)}x by fastest runs (${verdict(fastest >= 25)})`)
  out(`- peak RSS under 20 MB: ${Number.isNaN(rss) ? 'not measured' : `${rss.toFixed(1)} MB, ${verdict(rss < 20)}`}`)
  out(`- final state no larger than Yjs's: ${bytes(engine.state_bytes)} vs ${bytes(yjs.state_bytes)} bytes, ` +
    `${verdict(engine.state_bytes <= yjs.state_bytes)}`)
  out()
}

// (d): concurrent traces
out('### Concurrent traces as multi-client updates')
out()
out('Each transaction of the trace made by its agent\'s own Yjs document (agents see exactly the ' +
  'versions the trace says) and sent as one update; all updates applied in trace order to an empty ' +
  'document.')
out()
out('| trace | peer | apply ms | vs Yjs | encode ms | load ms | state bytes |')
out('|---|---|---:|---:|---:|---:|---:|')
for (const trace of ['friendsforever', 'clownschool']) {
  const base = load(`apply-${trace}-yjs`)
  for (const p of PEERS) {
    const r = load(`apply-${trace}-${p}`)
    if (!r) { out(`| ${trace} | ${PEER_NAMES[p]} | failed | | | | |`); continue }
    out(`| ${trace} | ${PEER_NAMES[p]} | ${series(r.apply_ms)} | ${ratio(base?.apply_ms, r.apply_ms)} | ` +
      `${series(r.encode_ms)} | ${series(r.load_ms)} | ${bytes(r.state_bytes)} |`)
  }
}
out()

// (e): many small documents
out(`### ${bytes(env.docs)} small documents held at once`)
out()
out(`One small document (${bytes(env.smallDocBytes)}-byte state: a ${env.smallDocText}-character text typed word ` +
  'by word, a map with two keys, an array with two strings) loaded into that many separate documents, ' +
  'all kept alive. Memory: resident set after minus before (after a full GC for node and Python).')
out()
out('| peer | RSS growth MB | bytes per document | load all ms |')
out('|---|---:|---:|---:|')
for (const p of PEERS) {
  const r = load(`docs-${p}`)
  if (!r) { out(`| ${PEER_NAMES[p]} | failed | | |`); continue }
  const growth = r.rss_after_kb - r.rss_before_kb
  out(`| ${PEER_NAMES[p]} | ${mb(growth)} | ${bytes(Math.round((growth * 1024) / r.docs))} | ${fmtMs(r.load_all_ms)} |`)
}
out()
out(`Reproduce: \`bench/crdt/run.sh\` (BENCH_ROUNDS=${env.rounds}, BENCH_REPEATS=${env.repeats}, BENCH_DOCS=${env.docs}); see bench/README.md.`)

const section = lines.join('\n')
let doc = fs.existsSync(docsFile) ? fs.readFileSync(docsFile, 'utf8') : '# Benchmarks\n\nOne section per benchmark; each is written by the command it names.\n'
const block = `${BEGIN}\n${section}\n${END}`
const b = doc.indexOf('<!-- bench:crdt:begin')
const e = doc.indexOf(END)
if (b >= 0 && e > b) doc = doc.slice(0, b) + block + doc.slice(e + END.length)
else doc = doc.replace(/\s*$/, '\n\n') + block + '\n'
fs.writeFileSync(docsFile, doc)
console.log(section)
