// The Grafana dashboards and Prometheus alerting rules of deploy/ against the
// services as they really are: every dashboard JSON parses and each panel has
// a datasource and queries; the provisioning files point at the datasource the
// dashboards use; every PromQL expression (panels and rules) parses in the
// local Prometheus and names only metrics that the four services, started
// here against the local stack (tests/e2e/lib/stack.mjs), export on /metrics;
// `promtool check rules` accepts the rule files and `promtool test rules` runs
// their unit tests (deploy/prometheus/tests).
//
//   COLLAB_BIN_DIR=<build>/bin node --test tests/ops/dashboards.test.mjs
//
// Needs the local stack (deploy/local/stack.sh up), python3 with PyYAML (to
// read the YAML files; Debian python3-yaml) and promtool (Debian prometheus).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Services, newRun } from '../e2e/lib/stack.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const dashboardsDir = path.join(root, 'deploy/grafana/dashboards');
const provisioningDir = path.join(root, 'deploy/grafana/provisioning');
const rulesDir = path.join(root, 'deploy/prometheus/rules');
const prometheusUrl = process.env.COLLAB_PROMETHEUS_URL ?? 'http://127.0.0.1:9090';

// Series Prometheus makes itself for every target, not exported by a service.
const SCRAPE_SERIES = new Set(['up']);

const files = (dir, ext) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => path.join(dir, f));

/** A YAML file as a value, read by PyYAML (node has no YAML parser). */
function loadYaml(file) {
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)',
      file,
    ],
    { encoding: 'utf8' },
  );
  if (py.error || py.status !== 0) {
    throw new Error(
      `reading ${file} needs python3 with PyYAML (Debian python3-yaml): ${py.error ?? py.stderr}`,
    );
  }
  return JSON.parse(py.stdout);
}

/** Grafana's own variables, given a value so the expression is plain PromQL. */
const grafanaToPromql = (expr) =>
  expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m').replace(/\$\{?(\w+)\}?/g, '.*');

const NOT_METRICS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not
 * functions or aggregations (followed by "("), keywords, label names (in
 * {...} matchers and by/without/on/ignoring lists), strings or durations.
 */
function metricNames(expr) {
  const e = grafanaToPromql(expr)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set();
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = e[m.index - 1] ?? ' ';
    if (/[0-9.]/.test(before)) continue; // the exponent or unit of a number: 1e3, 5m
    if (/^\s*\(/.test(e.slice(m.index + m[0].length))) continue; // a call
    if (NOT_METRICS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return names;
}

/** Names a /metrics text makes available to PromQL (histograms with their suffixes). */
function exportedNames(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const type = line.match(/^# TYPE (\S+) (\S+)/);
    if (type) {
      names.add(type[1]);
      if (type[2] === 'histogram' || type[2] === 'summary') {
        for (const s of ['_bucket', '_sum', '_count']) names.add(type[1] + s);
      }
      continue;
    }
    const sample = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]/);
    if (sample) names.add(sample[1]);
  }
  return names;
}

/** Every PromQL expression of the dashboards and rules, with where it is. */
function expressions() {
  const out = [];
  for (const file of files(dashboardsDir, '.json')) {
    const d = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const p of d.panels ?? []) {
      for (const t of p.targets ?? []) {
        out.push({ where: `${path.basename(file)}: "${p.title}" ${t.refId}`, expr: t.expr });
      }
    }
  }
  for (const file of files(rulesDir, '.yml')) {
    for (const g of loadYaml(file).groups) {
      for (const r of g.rules) {
        out.push({ where: `${path.basename(file)}: ${r.alert ?? r.record}`, expr: r.expr });
      }
    }
  }
  return out;
}

describe('the metric name reader', () => {
  test('finds metrics, not functions, labels, strings or durations', () => {
    const names = metricNames(
      'histogram_quantile(0.99, sum by (le, stage) (rate(a_bucket{x="b(c)", y=~"d|e"}[$__rate_interval])))' +
        ' / on (instance) group_left b_total offset 5m and sum(c) by (partition) > 1e3 unless up',
    );
    assert.deepEqual([...names].sort(), ['a_bucket', 'b_total', 'c', 'up']);
  });

  test('reads histogram suffixes and labelled families from /metrics text', () => {
    const names = exportedNames(
      '# HELP h_seconds x\n# TYPE h_seconds histogram\n# HELP f_total y\n# TYPE f_total counter\n' +
        'f_total{reason="a"} 1\n',
    );
    for (const n of ['h_seconds_bucket', 'h_seconds_sum', 'h_seconds_count', 'f_total']) {
      assert.ok(names.has(n), n);
    }
    assert.ok(!names.has('f_total_bucket'));
  });
});

describe('dashboards and provisioning', () => {
  const dashboards = files(dashboardsDir, '.json');

  test('the five dashboards are there and match deploy/grafana/generate.mjs', () => {
    const names = dashboards.map((f) => path.basename(f, '.json')).sort();
    assert.deepEqual(names, ['broadcaster', 'ingest', 'overview', 'processor', 'snapshotter']);
    const gen = spawnSync(
      process.execPath,
      [path.join(root, 'deploy/grafana/generate.mjs'), '--check'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(gen.status, 0, `generate.mjs --check: ${gen.stderr}`);
  });

  for (const file of dashboards) {
    test(`${path.basename(file)}: parses; every panel has a datasource and queries`, () => {
      const d = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.match(d.uid, /^collab-/);
      assert.ok(d.title && Array.isArray(d.panels) && d.panels.length > 0);
      const ids = new Set();
      for (const p of d.panels) {
        assert.ok(!ids.has(p.id), `panel id ${p.id} twice`);
        ids.add(p.id);
        assert.ok(
          p.gridPos && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24,
          `${p.title}: gridPos`,
        );
        if (p.type === 'row') continue;
        assert.equal(p.datasource?.type, 'prometheus', `${p.title}: datasource`);
        assert.ok(p.datasource.uid, `${p.title}: datasource uid`);
        assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${p.title}: no targets`);
        const refIds = new Set();
        for (const t of p.targets) {
          assert.ok(t.expr && t.expr.trim(), `${p.title}: empty expr`);
          assert.ok(t.refId && !refIds.has(t.refId), `${p.title}: refId ${t.refId}`);
          refIds.add(t.refId);
        }
      }
    });
  }

  test('provisioning: the datasource the dashboards select, and a file provider', () => {
    const ds = files(path.join(provisioningDir, 'datasources'), '.yaml').flatMap(
      (f) => loadYaml(f).datasources,
    );
    const prom = ds.find((d) => d.type === 'prometheus');
    assert.ok(prom, 'no prometheus datasource');
    for (const file of dashboards) {
      const d = JSON.parse(fs.readFileSync(file, 'utf8'));
      const variable = d.templating.list.find((v) => v.type === 'datasource');
      assert.equal(variable.current.value, prom.uid, `${path.basename(file)}: default datasource`);
    }
    const providers = files(path.join(provisioningDir, 'dashboards'), '.yaml').flatMap(
      (f) => loadYaml(f).providers,
    );
    assert.ok(
      providers.some((p) => p.type === 'file' && p.options?.path),
      'no file provider',
    );
  });
});

describe('alerting rules', () => {
  test('promtool check rules accepts every rule file', () => {
    const rules = files(rulesDir, '.yml');
    assert.ok(rules.length > 0, `no rule files in ${rulesDir}`);
    const run = spawnSync('promtool', ['check', 'rules', ...rules], { encoding: 'utf8' });
    if (run.error?.code === 'ENOENT') {
      assert.fail('promtool not found: install the Debian package prometheus (it ships promtool)');
    }
    assert.equal(run.status, 0, `promtool check rules:\n${run.stdout}${run.stderr}`);
  });

  test('promtool test rules: each alert fires on its case and not on the look-alike', () => {
    const cases = files(path.join(root, 'deploy/prometheus/tests'), '.test.yml');
    assert.ok(cases.length > 0, 'no rule unit tests in deploy/prometheus/tests');
    const run = spawnSync('promtool', ['test', 'rules', ...cases], { encoding: 'utf8' });
    if (run.error?.code === 'ENOENT') {
      assert.fail('promtool not found: install the Debian package prometheus (it ships promtool)');
    }
    assert.equal(run.status, 0, `promtool test rules:\n${run.stdout}${run.stderr}`);
  });

  test('the alerts the operations guide promises exist', () => {
    const alerts = files(rulesDir, '.yml').flatMap((f) =>
      loadYaml(f).groups.flatMap((g) => g.rules.map((r) => r.alert)),
    );
    for (const a of [
      'CollabServiceDown',
      'CollabProcessorLagGrowing',
      'CollabProcessorDLQRecords',
      'CollabNackRateHigh',
      'CollabResyncsFrequent',
    ]) {
      assert.ok(alerts.includes(a), a);
    }
  });
});

describe('every expression against Prometheus and the running services', () => {
  let run;
  let services;
  const exported = new Set();

  before(async () => {
    run = await newRun('ops');
    services = new Services(run, { partitions: 2 });
    try {
      await services.startAll();
      for (const port of [
        run.ports.ingestMetrics,
        run.ports.processorMetrics,
        run.ports.snapshotterMetrics,
        run.ports.broadcasterMetrics,
      ]) {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        assert.equal(res.status, 200);
        for (const n of exportedNames(await res.text())) exported.add(n);
      }
    } catch (err) {
      services.dumpLogs(30);
      throw err;
    }
  });

  after(async () => {
    if (services) {
      const ended = await services.stopAll();
      for (const [name, how] of Object.entries(ended)) {
        assert.equal(how.code, 0, `${name} ended with ${JSON.stringify(how)}`);
      }
    }
    if (run) fs.rmSync(run.dir, { recursive: true, force: true });
  });

  test('the services export the process and pipeline families at all', () => {
    for (const n of [
      'process_cpu_seconds_total',
      'ingest_acks_total',
      'processor_ops_total',
      'snapshotter_records_total',
      'broadcaster_subscribers',
    ]) {
      assert.ok(exported.has(n), `${n} missing from /metrics`);
    }
  });

  test('every metric a dashboard or rule queries is exported', () => {
    const missing = [];
    for (const { where, expr } of expressions()) {
      for (const name of metricNames(expr)) {
        if (!SCRAPE_SERIES.has(name) && !exported.has(name)) missing.push(`${where}: ${name}`);
      }
    }
    assert.deepEqual(missing, [], `metrics no service exports:\n${missing.join('\n')}`);
  });

  test('a made-up metric would be caught', () => {
    const names = metricNames('sum(rate(collab_no_such_metric_total[5m]))');
    assert.ok([...names].some((n) => !exported.has(n)));
  });

  test('every expression parses in Prometheus', async () => {
    const bad = [];
    for (const { where, expr } of expressions()) {
      const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(grafanaToPromql(expr))}`;
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      const body = await res.json();
      if (body.status !== 'success') bad.push(`${where}: ${body.error}`);
    }
    assert.deepEqual(bad, [], bad.join('\n'));
  });
});
