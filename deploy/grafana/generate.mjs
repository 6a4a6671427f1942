// Generates the Grafana dashboards in deploy/grafana/dashboards/ (an overview
// of the pipeline and one per service) from the short panel lists below, so
// that every panel has the same datasource, units and layout rules. The JSON
// files are committed; tests/ops checks they match this script's output and
// that every metric a panel queries is one the services export.
//
//   node deploy/grafana/generate.mjs           writes the files
//   node deploy/grafana/generate.mjs --check   exits 1 when a file differs
//
// Metric names are the services' own (grep metrics_*_new in ingest/,
// processor/, snapshotter/, broadcaster/, common/); `up` is Prometheus'.

import fs from 'node:fs';
import path from 'node:path';

const outDir = path.join(import.meta.dirname, 'dashboards');
const DS = { type: 'prometheus', uid: '${datasource}' };
const RATE = '$__rate_interval';

/** A PromQL target; legend defaults to the series' labels. */
const q = (expr, legend = '') => ({ expr, legend });
const rate = (metric, by = '') =>
  by ? `sum by (${by}) (rate(${metric}[${RATE}]))` : `sum(rate(${metric}[${RATE}]))`;
const quantile = (p, histogram, by = '') =>
  `histogram_quantile(${p}, sum by (le${by ? `, ${by}` : ''}) (rate(${histogram}_bucket[${RATE}])))`;
/** p50, p90 and p99 of one histogram, one target each. */
const quantiles = (histogram, by = '') =>
  [0.5, 0.9, 0.99].map((p) =>
    q(quantile(p, histogram, by), `p${Math.round(p * 100)}${by ? ` {{${by}}}` : ''}`),
  );

/** panel(title, description, unit, targets, {type, width}) */
function panel(title, description, unit, targets, opts = {}) {
  return {
    title,
    description,
    unit,
    targets,
    type: opts.type ?? 'timeseries',
    width: opts.width ?? 12,
  };
}
const row = (title) => ({ row: title });

const SERVICES = 'ingest|processor|broadcaster|snapshotter';

const up = panel(
  'Service up',
  'Prometheus scrape of each service /metrics: 1 up, 0 down (the ServiceDown alert fires after 1 minute down).',
  'none',
  [q(`up{service=~"${SERVICES}"}`, '{{service}} {{instance}}')],
  { type: 'stat', width: 24 },
);

const dashboards = {
  overview: {
    title: 'collab: pipeline overview',
    description:
      'Health of the whole pipeline: ingest -> collab.ops -> processor -> collab.merged -> broadcaster, snapshotter beside it.',
    panels: [
      up,
      row('Ingest'),
      panel(
        'Ingest ops/s',
        'Operations received (UPDATE and item writes) and operations acknowledged after the Kafka delivery report.',
        'ops',
        [
          q(
            rate('ingest_messages_received_total{type=~"update|item_write|item_resolve"}'),
            'received',
          ),
          q(rate('ingest_acks_total'), 'acked'),
        ],
      ),
      panel(
        'Ingest ACK latency',
        'From receiving an operation to its Kafka delivery report (the ACK follows at once): p50, p90, p99.',
        's',
        quantiles('ingest_produce_latency_seconds'),
      ),
      row('Processor'),
      panel(
        'Processor lag (records)',
        'Records of collab.ops not yet merged (summed over partitions), and of collab.merged not yet read by the snapshotter. Growing lag means the consumer falls behind.',
        'short',
        [
          q('sum(processor_consumer_lag_records)', 'processor (collab.ops)'),
          q('sum(snapshotter_consumer_lag_records)', 'snapshotter (collab.merged)'),
        ],
      ),
      panel(
        'Processor commit and merge latency p99',
        'p99 of: op ingest time -> its merged record committed; one Kafka transaction commit; one merge.',
        's',
        [
          q(quantile(0.99, 'processor_commit_latency_seconds'), 'ingest -> committed'),
          q(quantile(0.99, 'processor_txn_commit_seconds'), 'transaction commit'),
          q(quantile(0.99, 'processor_merge_seconds'), 'merge'),
        ],
      ),
      row('Broadcaster'),
      panel(
        'Broadcaster subscribers',
        'Open read connections, and documents with at least one subscriber (all instances).',
        'short',
        [
          q('sum(broadcaster_subscribers)', 'subscribers'),
          q('sum(broadcaster_documents)', 'documents'),
        ],
      ),
      panel(
        'End-to-end latency (ingest -> reader)',
        'broadcaster_e2e_latency_seconds: from ingest receiving an operation to its merged form being written to a reader; p50, p90, p99.',
        's',
        quantiles('broadcaster_e2e_latency_seconds'),
      ),
      row('Failures'),
      panel(
        'DLQ records',
        'Records sent to collab.dlq per second: the processor by reason, the snapshotter (undecodable merged records). Any is an alert.',
        'short',
        [
          q(rate('processor_dlq_records_total', 'reason'), 'processor {{reason}}'),
          q(rate('snapshotter_dlq_records_total'), 'snapshotter'),
        ],
      ),
      panel(
        'Errors and refusals',
        'Per second: NACKs by reason, ERRORs sent by ingest, aborted processor transactions, failed view and snapshot writes, broadcaster RESYNCs.',
        'short',
        [
          q(rate('ingest_nacks_total', 'reason'), 'ingest NACK {{reason}}'),
          q(rate('ingest_errors_total', 'code'), 'ingest ERROR {{code}}'),
          q(rate('processor_txn_aborts_total'), 'processor txn aborts'),
          q(rate('processor_view_write_failures_total'), 'processor view write failures'),
          q(rate('snapshotter_snapshot_failures_total'), 'snapshot failures'),
          q(rate('broadcaster_resyncs_total', 'reason'), 'broadcaster RESYNC {{reason}}'),
        ],
      ),
    ],
  },

  ingest: {
    title: 'collab: ingest',
    description:
      'The WebSocket write endpoint: auth, validation, Avro encoding, Kafka produce, ACK.',
    panels: [
      up,
      panel(
        'Write connections',
        'Open WebSocket write connections, and new ones per second.',
        'short',
        [
          q('sum(ingest_connections)', 'open'),
          q(rate('ingest_connections_opened_total'), 'opened/s'),
        ],
      ),
      panel(
        'Messages received by type',
        'WebSocket messages received per second, by message type.',
        'short',
        [q(rate('ingest_messages_received_total', 'type'), '{{type}}')],
      ),
      panel('ACKs/s', "Operations acknowledged after Kafka's delivery report.", 'ops', [
        q(rate('ingest_acks_total'), 'acks'),
      ]),
      panel('Received bytes/s', 'Bytes of WebSocket messages received.', 'Bps', [
        q(rate('ingest_received_bytes_total'), 'received'),
      ]),
      panel(
        'ACK latency',
        'Receipt of an operation -> its Kafka delivery report: p50, p90, p99.',
        's',
        quantiles('ingest_produce_latency_seconds'),
      ),
      panel(
        'Stage latency p99',
        'p99 time an operation spends in each stage: validate, kafka (produce -> delivery report), handoff (to the connection thread), write (the ACK on the socket).',
        's',
        [q(quantile(0.99, 'ingest_op_stage_seconds', 'stage'), '{{stage}}')],
      ),
      panel(
        'Producer queue',
        'Messages in the Kafka producer waiting for a delivery report.',
        'short',
        [q('sum(ingest_producer_queue_messages)', 'queued')],
      ),
      panel(
        'NACKs by reason',
        'Operations answered with NACK per second (rate_limited, invalid_update, forbidden, unavailable, ...).',
        'short',
        [q(rate('ingest_nacks_total', 'reason'), '{{reason}}')],
      ),
      panel(
        'ERRORs and auth failures',
        'ERROR messages sent (the connection closes) by code, refused tokens and logins by reason.',
        'short',
        [
          q(rate('ingest_errors_total', 'code'), 'ERROR {{code}}'),
          q(rate('ingest_auth_failures_total', 'reason'), 'auth {{reason}}'),
        ],
      ),
      panel(
        'HTTP requests',
        'HTTP API requests and refused upgrades per second, by route and status.',
        'short',
        [q(rate('ingest_http_requests_total', 'route, status'), '{{route}} {{status}}')],
      ),
      panel(
        'Awareness',
        'Awareness updates published to Redis, and dropped (rate limit, full queue, Redis down).',
        'short',
        [
          q(rate('ingest_awareness_published_total'), 'published'),
          q(rate('ingest_awareness_dropped_total'), 'dropped'),
        ],
      ),
      ...processPanels('ingest'),
    ],
  },

  processor: {
    title: 'collab: processor',
    description:
      'Merges collab.ops per document in Kafka transactions, writes collab.merged and the MongoDB/Redis views.',
    panels: [
      up,
      panel(
        'Ops by outcome',
        'Ops read from collab.ops per second: merged, duplicate, noop, poison (to the DLQ).',
        'ops',
        [q(rate('processor_ops_total', 'result'), '{{result}}')],
      ),
      panel(
        'Consumer lag by partition',
        'Records of collab.ops not yet merged, per partition.',
        'short',
        [q('sum by (partition) (processor_consumer_lag_records)', 'partition {{partition}}')],
      ),
      panel(
        'Ingest -> committed latency',
        "From an op's ingest time to the commit of its merged record: p50, p90, p99.",
        's',
        quantiles('processor_commit_latency_seconds'),
      ),
      panel(
        'Transaction commit time',
        'Sending the offsets and committing one Kafka transaction: p50, p90, p99.',
        's',
        quantiles('processor_txn_commit_seconds'),
      ),
      panel(
        'Merge time',
        'Time to merge one op into its document: p50, p90, p99.',
        's',
        quantiles('processor_merge_seconds'),
      ),
      panel('Ops per transaction', 'Mean ops per Kafka transaction (batch size).', 'short', [
        q(`${rate('processor_batch_ops_sum')} / ${rate('processor_batch_ops_count')}`, 'mean'),
      ]),
      panel(
        'DLQ and aborts',
        'Records sent to collab.dlq by reason, aborted transactions (the batch is redone).',
        'short',
        [
          q(rate('processor_dlq_records_total', 'reason'), 'DLQ {{reason}}'),
          q(rate('processor_txn_aborts_total'), 'txn aborts'),
        ],
      ),
      panel('Documents in memory', 'Documents held, and evictions per second.', 'short', [
        q('sum(processor_documents)', 'documents'),
        q(rate('processor_evictions_total'), 'evictions/s'),
      ]),
      panel(
        'Document load time p99',
        'Loading one document from the views (snapshot + log tail).',
        's',
        [q(quantile(0.99, 'processor_document_load_seconds'), 'p99')],
      ),
      panel(
        'View writes p99',
        'One view write to MongoDB or Redis (a batch or one document), p99 by store; one writer round.',
        's',
        [
          q(quantile(0.99, 'processor_view_write_seconds', 'store'), '{{store}}'),
          q(quantile(0.99, 'processor_view_round_seconds'), 'round'),
        ],
      ),
      panel('View queue', 'Jobs and bytes waiting for the view writer.', 'short', [
        q('sum(processor_view_queue_jobs)', 'jobs'),
        q('sum(processor_view_queue_bytes)', 'bytes'),
      ]),
      panel(
        'View writes and failures',
        'Merged ops written to crdt_operations, failed rounds (retried), jobs refused on a full queue.',
        'short',
        [
          q(rate('processor_view_ops_written_total'), 'ops written/s'),
          q(rate('processor_view_write_failures_total'), 'failures/s'),
          q(rate('processor_view_jobs_dropped_total'), 'dropped/s'),
        ],
      ),
      panel(
        'Item conflicts',
        'Item writes that put an item into conflict, item ops that settled one.',
        'short',
        [
          q(rate('processor_conflicts_detected_total'), 'detected'),
          q(rate('processor_conflicts_resolved_total'), 'resolved'),
        ],
      ),
      panel(
        'Recovery',
        'Partition recoveries: merged records replayed per second, version gaps found per second.',
        'short',
        [
          q(rate('processor_recovery_records_total'), 'records/s'),
          q(rate('processor_recovery_gaps_total'), 'gaps/s'),
        ],
      ),
      panel(
        'Recovery time p99',
        'Time to recover the partitions of one assignment (after a rebalance or a start).',
        's',
        [q(quantile(0.99, 'processor_recovery_seconds'), 'p99')],
      ),
      ...processPanels('processor'),
    ],
  },

  snapshotter: {
    title: 'collab: snapshotter',
    description:
      'Own consumer group on collab.merged: crdt_operations rows, periodic snapshots into document_versions.',
    panels: [
      up,
      panel(
        'Records applied',
        'Merged records applied per second, snapshots written per second.',
        'short',
        [
          q(rate('snapshotter_records_total'), 'records'),
          q(rate('snapshotter_snapshots_total'), 'snapshots'),
        ],
      ),
      panel(
        'Consumer lag by partition',
        'Records of collab.merged not yet read, per partition.',
        'short',
        [q('sum by (partition) (snapshotter_consumer_lag_records)', 'partition {{partition}}')],
      ),
      panel(
        'Snapshot time',
        'Encoding and writing one snapshot: p50, p90, p99.',
        's',
        quantiles('snapshotter_snapshot_seconds'),
      ),
      panel('Snapshot size p99', "Size of a snapshot's encoded state.", 'bytes', [
        q(quantile(0.99, 'snapshotter_snapshot_bytes'), 'p99'),
      ]),
      panel(
        'Failures',
        'Failed snapshots and crdt_operations row writes (retried), version gaps, DLQ records.',
        'short',
        [
          q(rate('snapshotter_snapshot_failures_total'), 'snapshot failures'),
          q(rate('snapshotter_row_store_failures_total'), 'row store failures'),
          q(rate('snapshotter_gaps_total'), 'gaps'),
          q(rate('snapshotter_dlq_records_total'), 'DLQ'),
        ],
      ),
      panel('Documents in memory', 'Documents held by the snapshotter.', 'short', [
        q('sum(snapshotter_documents)', 'documents'),
      ]),
      ...processPanels('snapshotter'),
    ],
  },

  broadcaster: {
    title: 'collab: broadcaster',
    description:
      'Reads collab.merged and fans merged operations out to the read connections of each document.',
    panels: [
      up,
      panel(
        'Subscribers and documents',
        'Open read connections; documents with at least one subscriber.',
        'short',
        [
          q('sum(broadcaster_subscribers)', 'subscribers'),
          q('sum(broadcaster_documents)', 'documents'),
        ],
      ),
      panel(
        'Messages sent by type',
        'Messages written to read connections per second, by type (merged, state, awareness, ...).',
        'short',
        [q(rate('broadcaster_messages_sent_total', 'type'), '{{type}}')],
      ),
      panel('Sent bytes/s', 'Payload bytes written to read connections.', 'Bps', [
        q(rate('broadcaster_sent_bytes_total'), 'sent'),
      ]),
      panel(
        'End-to-end latency',
        'Ingest receiving an operation -> its merged form written to a reader: p50, p90, p99.',
        's',
        quantiles('broadcaster_e2e_latency_seconds'),
      ),
      panel(
        'Records read',
        'collab.merged records per second by what became of them: delivered, ignored, duplicate, gap, invalid.',
        'short',
        [q(rate('broadcaster_records_total', 'result'), '{{result}}')],
      ),
      panel(
        'Queue depth p99',
        'Queued messages per subscriber (sampled every second), p99: a growing queue is a slow reader.',
        'short',
        [q(quantile(0.99, 'broadcaster_queue_depth_messages'), 'p99')],
      ),
      panel(
        'RESYNCs and disconnects',
        'RESYNC + STATE sent instead of missing ops, by reason; read connections ended, by reason.',
        'short',
        [
          q(rate('broadcaster_resyncs_total', 'reason'), 'RESYNC {{reason}}'),
          q(rate('broadcaster_disconnects_total', 'reason'), 'closed {{reason}}'),
        ],
      ),
      panel(
        'Upgrades by status',
        'WebSocket upgrade requests on the read endpoint per second, by HTTP status.',
        'short',
        [q(rate('broadcaster_upgrades_total', 'status'), '{{status}}')],
      ),
      panel(
        'State loads',
        'Document states loaded from Redis or MongoDB, and failed loads (retried), per second.',
        'short',
        [
          q(rate('broadcaster_state_loads_total'), 'loads'),
          q(rate('broadcaster_state_load_failures_total'), 'failures'),
        ],
      ),
      panel(
        'State load time p99',
        'Time to load a document state from the views (Redis, else MongoDB).',
        's',
        [q(quantile(0.99, 'broadcaster_state_load_seconds'), 'p99')],
      ),
      panel(
        'Op fetches',
        'Reads of missing operations from MongoDB crdt_operations, and failed ones (retried).',
        'short',
        [
          q(rate('broadcaster_op_fetches_total'), 'fetches'),
          q(rate('broadcaster_op_fetch_failures_total'), 'failures'),
        ],
      ),
      panel(
        'Awareness',
        'Awareness updates relayed from Redis pub/sub, and dropped for readers with a full queue.',
        'short',
        [
          q(rate('broadcaster_awareness_relayed_total'), 'relayed'),
          q(rate('broadcaster_awareness_dropped_total'), 'dropped'),
        ],
      ),
      ...processPanels('broadcaster'),
    ],
  },
};

/** CPU, memory and file descriptors of one service (common/metrics_process.c). */
function processPanels(service) {
  const sel = `{service="${service}"}`;
  return [
    row('Process'),
    panel(
      'CPU',
      'CPU seconds per second (1 = one core busy).',
      'percentunit',
      [q(`rate(process_cpu_seconds_total${sel}[${RATE}])`, '{{instance}}')],
      { width: 8 },
    ),
    panel(
      'Resident memory',
      'Resident set size.',
      'bytes',
      [q(`process_resident_memory_bytes${sel}`, '{{instance}}')],
      { width: 8 },
    ),
    panel(
      'Open file descriptors',
      'Open descriptors against the limit (each connection is one).',
      'short',
      [
        q(`process_open_fds${sel}`, 'open {{instance}}'),
        q(`process_max_fds${sel}`, 'limit {{instance}}'),
      ],
      { width: 8 },
    ),
  ];
}

/** The Grafana JSON model of one dashboard (schema of Grafana 9-11). */
function render(uid, d) {
  const panels = [];
  let x = 0;
  let y = 0;
  let id = 1;
  const height = 8;
  for (const p of d.panels) {
    if (p.row) {
      if (x > 0) y += height;
      x = 0;
      panels.push({
        id: id++,
        type: 'row',
        title: p.row,
        collapsed: false,
        gridPos: { h: 1, w: 24, x: 0, y },
        panels: [],
      });
      y += 1;
      continue;
    }
    const h = p.type === 'stat' ? 4 : height;
    if (x + p.width > 24) {
      x = 0;
      y += height;
    }
    panels.push({
      id: id++,
      type: p.type,
      title: p.title,
      description: p.description,
      datasource: DS,
      gridPos: { h, w: p.width, x, y },
      fieldConfig: {
        defaults:
          p.type === 'stat'
            ? {
                unit: p.unit,
                mappings: [
                  {
                    type: 'value',
                    options: {
                      0: { text: 'DOWN', color: 'red' },
                      1: { text: 'UP', color: 'green' },
                    },
                  },
                ],
                thresholds: {
                  mode: 'absolute',
                  steps: [
                    { color: 'red', value: null },
                    { color: 'green', value: 1 },
                  ],
                },
                color: { mode: 'thresholds' },
              }
            : {
                unit: p.unit,
                custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never' },
              },
        overrides: [],
      },
      options:
        p.type === 'stat'
          ? {
              reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
              colorMode: 'background',
              textMode: 'value_and_name',
            }
          : {
              legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
              tooltip: { mode: 'multi', sort: 'desc' },
            },
      targets: p.targets.map((t, i) => ({
        refId: String.fromCharCode(65 + i),
        datasource: DS,
        expr: t.expr,
        legendFormat: t.legend,
        range: true,
      })),
    });
    if (p.type === 'stat') {
      y += h;
      x = 0;
    } else {
      x += p.width;
      if (x >= 24) {
        x = 0;
        y += height;
      }
    }
  }
  return {
    uid: `collab-${uid}`,
    title: d.title,
    description: d.description,
    tags: ['collab'],
    timezone: 'utc',
    editable: true,
    schemaVersion: 39,
    version: 1,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: { text: 'collab Prometheus', value: 'collab-prometheus' },
          hide: 0,
        },
      ],
    },
    links: [{ title: 'collab dashboards', type: 'dashboards', tags: ['collab'], asDropdown: true }],
    annotations: { list: [] },
    panels,
  };
}

const check = process.argv.includes('--check');
let stale = 0;
for (const [uid, d] of Object.entries(dashboards)) {
  const file = path.join(outDir, `${uid}.json`);
  const text = `${JSON.stringify(render(uid, d), null, 2)}\n`;
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
      console.error(`${file} is not what deploy/grafana/generate.mjs makes: run it`);
      stale++;
    }
  } else {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(file, text);
  }
}
process.exit(stale ? 1 : 0);
