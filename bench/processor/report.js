// bench/processor/report.js RESULTS_DIR BENCHMARKS_MD: turns the four JSON results
// of processor_bench into the processor section of docs/benchmarks.md and prints it.
// Only the text between the processor markers is replaced (appended when absent).
'use strict'
const fs = require('fs')
const path = require('path')

const [dir, target] = process.argv.slice(2)
const read = (name) => JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'))
const tp = read('throughput')
const lat = read('latency')
const rec = read('recovery')
const loadFile = path.join(dir, 'latency-load.txt')
const latencyLoad = fs.existsSync(loadFile) ? fs.readFileSync(loadFile, 'utf8').trim() : 'not recorded'
const views = fs.existsSync(path.join(dir, 'views.json')) ? read('views') : null
const ok = (cond) => (cond ? 'met' : '**not met**')
const n = (x) => Number(x).toLocaleString('en-US')

const section = `## processor: collab.ops -> merge -> collab.merged, views on

\`bench/processor/run.sh\` (Release build; the real \`processor\` binary as a child process
against the local Kafka, FerretDB and Redis, MongoDB/Redis views on; each mode on fresh
topics with ${tp.partitions} partitions and a fresh database; ${new Date().toISOString().slice(0, 10)},
the 2-core machine shared with the stack).

| measure | result | target |
| --- | --- | --- |
| sustained merge rate, backlog of ${n(tp.ops)} ops over ${n(tp.documents)} documents | **${n(tp.ops_per_second)} ops/s** (${tp.seconds} s first to last merged record) | >= 20,000 ops/s: ${ok(tp.ops_per_second >= 20000)} |
| crdt_operations rows written meanwhile by the view writer (its \`processor_view_ops_written_total\`; FerretDB holds ${n(tp.views_stored)} at the end) | ${n(tp.views_written)} of ${n(tp.ops)} within ${tp.views_seconds} s of the first merge: **${n(tp.views_ops_per_second)} rows/s** | beside the hot path; no target |${tp.replay_seconds > 0 ? `
| \`build/bin/replay\` of that collab.merged (${n(tp.ops)} records, ${n(tp.documents)} documents) into an empty database and Redis db | **${tp.replay_seconds.toFixed(1)} s**: ${n(Math.round(tp.ops / tp.replay_seconds))} records/s, every view written | no target |` : ''}${views ? `
| the view writer's two MongoDB writes alone on FerretDB (\`processor_bench views\`, ${n(views.rows)} rows, ${n(views.documents)} documents) | crdt_operations inserts (unordered insert_many): ${n(views.rows_per_second_batch_500)} rows/s in batches of 500 (the writer's), ${n(views.rows_per_second_batch_100)} in batches of 100, ${n(views.rows_per_second_batch_2000)} in batches of 2000; documents conditional upserts: ${n(views.documents_created_per_second)}/s creating, ${n(views.documents_advanced_per_second)}/s advancing | no target |` : ''}
| latency ingest_time -> merged record received by a read_committed consumer, ${n(lat.rate)} ops/s for ${lat.seconds} s | p50 ${lat.p50_ms} ms, p90 ${lat.p90_ms} ms, **p99 ${lat.p99_ms} ms**, p99.9 ${lat.p999_ms} ms, max ${lat.max_ms} ms (${n(lat.received)} ops) | p99 <= 20 ms: ${ok(lat.p99_ms <= 20)} |${lat.transactions > 0 ? `
| the same run from the processor's \`/metrics\` (bucket-interpolated): ingest_time -> its transaction committed; the commit alone (offsets, delivery reports, EndTxn: \`processor_txn_commit_seconds\`) | p50 ${lat.processor_commit_p50_ms.toFixed(1)} ms, p99 ${lat.processor_commit_p99_ms.toFixed(1)} ms; commit p50 ${lat.txn_commit_p50_ms.toFixed(1)} ms, p90 ${lat.txn_commit_p90_ms.toFixed(1)} ms, p99 ${lat.txn_commit_p99_ms.toFixed(1)} ms; ${n(lat.transactions)} transactions (${Math.round(lat.received / lat.transactions)} ops each on average) | no target |` : ''}
| recovery of ${n(rec.documents)} documents from snapshots + ${n(rec.log_records)} log records | **${rec.assigned_to_recovered_seconds.toFixed(2)} s** from assignment to every partition recovered (sum of per-partition times ${rec.recovery_seconds_sum.toFixed(2)} s); ${n(rec.replayed)} records replayed, ${rec.gaps} gaps; sample ${rec.sample_right}/${rec.sample_checked} documents at the right version | <= 10 s: ${ok(rec.assigned_to_recovered_seconds <= 10)} |

Latency is measured where a client would see it (a consumer of collab.merged), so it
includes that consumer's fetch on top of the transaction commit. Throughput counts merged
records committed per second while the processor drains a backlog (its start and group
join excluded). Recovery reads the log from the snapshotter group's committed offsets
(none here: the whole log is after the snapshots). On FerretDB a conditional upsert of
\`documents\` costs a scan of the collection, so the writer upserts at most 100 documents
per round and writes the rows first (docs/decisions.md, "tools/replay and the view writer
on FerretDB"). The latency is bounded below by the
Kafka transaction commit (AddPartitionsToTxn, produce, AddOffsetsToTxn, TxnOffsetCommit,
EndTxn: \`processor_txn_commit_seconds\`): an op waits for the commit in progress and then
its own. Transactions go to a ring of producers in turn (processor/txnring.h), so a commit
no longer waits ~20 ms for the previous one's markers; what is left is the broker's own
time, which on this machine is CPU-bound (the broker took about one of the two cores during
the latency run). Load average (1/5/15 min) when the latency run began: ${latencyLoad}.
Raw results:
\`build-bench-processor/bench-results/\`.`

const BEGIN = '<!-- bench:processor:begin (written by bench/processor/run.sh; edits here are overwritten) -->'
const END = '<!-- bench:processor:end -->'
const block = `${BEGIN}\n${section}\n${END}`
let doc = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '# Benchmarks\n'
const b = doc.indexOf('<!-- bench:processor:begin')
const e = doc.indexOf(END)
if (b >= 0 && e > b) doc = doc.slice(0, b) + block + doc.slice(e + END.length)
else doc = doc.replace(/\n*$/, '\n\n') + block + '\n'
fs.writeFileSync(target, doc)
console.log(section)
