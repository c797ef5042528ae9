// The monitoring kit (monitoring/: alerting rules, dashboard) against what the binaries export.
// The registries are built here the way controller/main.ts and speaker/main.ts (with the two
// protocols) build them, so the metric reference (docs/metrics.md) and every name the kit's
// queries use can be checked both ways without running the binaries; the lab test checks the
// same against the real /metrics of running processes.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import yaml from 'js-yaml';
import { ControllerMetrics } from '../../controller/metrics.js';
import { ConfigMetrics } from '../../lib/config/reporter.js';
import { Layer2Metrics } from '../../speaker/layer2/metrics.js';
import { BgpMetrics } from '../../speaker/bgp/metrics.js';
import { ControlPlaneMetrics } from '../../speaker/control-plane/metrics.js';
import { registerBfdMetrics } from '../../speaker/bgp/bfd/metrics.js';
import { registerStallMetrics } from '../../speaker/thread-stalls.js';
import type { BfdPeerStats } from '../../speaker/bgp/bfd/index.js';

/** The repository root, whether this file runs from the sources or from dist/. */
export const repoRoot = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();
export const alertsFile = path.join(repoRoot, 'monitoring/alerts.yaml');
export const alertTestsFile = path.join(repoRoot, 'monitoring/tests/alerts.test.yaml');
export const dashboardFile = path.join(repoRoot, 'monitoring/dashboard.json');
export const dashboardConfigMapFile = path.join(repoRoot, 'monitoring/dashboard-configmap.yaml');
export const metricsDocFile = path.join(repoRoot, 'docs/metrics.md');
export const runbooksFile = path.join(repoRoot, 'docs/runbooks.md');

export type Component = 'controller' | 'speaker';
export const components: readonly Component[] = ['controller', 'speaker'];

/** Series Prometheus makes itself for every target: the kit may use them. */
export const prometheusSeries = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** prom-client's default process_* and nodejs_* metrics: documented as a group, not one by one. */
export const isDefaultMetric = (name: string): boolean => /^(process_|nodejs_)/.test(name);

export interface MetricFamily {
  name: string;
  type: string;
  /** Label names the binary sets (histograms: without `le`). */
  labels: string[];
  components: Component[];
}

/**
 * The registries as each binary fills them (controller/main.ts, speaker/main.ts + protocols).
 * With `samples`, every family gets one sample (promtool lints only families with samples).
 */
export function buildRegistries(opts: { samples?: boolean } = {}): Record<Component, Registry> {
  const controller = new Registry();
  collectDefaultMetrics({ register: controller });
  new ControllerMetrics(controller);
  new ConfigMetrics(controller);
  const speaker = new Registry();
  collectDefaultMetrics({ register: speaker });
  new ConfigMetrics(speaker);
  new Layer2Metrics(speaker);
  new BgpMetrics(speaker);
  // `beacon-speaker control-plane` is the same binary in another process: its families are the speaker's.
  new ControlPlaneMetrics(speaker);
  // The BFD families read the sessions at scrape time: one Up session gives each a sample.
  const bfdSample = {
    peer: '192.0.2.1',
    state: 'Up',
    upEvents: 1,
    downEvents: 0,
    packetsIn: 3,
    packetsOut: 3,
  };
  registerBfdMetrics(speaker, () => (opts.samples ? [bfdSample as unknown as BfdPeerStats] : []));
  registerStallMetrics(speaker);
  if (opts.samples) for (const r of [controller, speaker]) addSamples(r);
  return { controller, speaker };
}

/**
 * The families only `beacon-speaker control-plane` exports: a lab of Service speakers never
 * shows them (the control-plane lab runs that mode).
 */
export function controlPlaneOnlyFamilies(): Set<string> {
  const registry = new Registry();
  new ControlPlaneMetrics(registry);
  return new Set(registry.getMetricsAsArray().map((m) => m.name));
}

function addSamples(registry: Registry): void {
  for (const m of registry.getMetricsAsArray()) {
    if (isDefaultMetric(m.name)) continue;
    const names = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
    const labels = Object.fromEntries(names.map((n) => [n, 'x']));
    if (m instanceof Gauge) m.set(labels, 1);
    else if (m instanceof Counter) m.inc(labels, 1);
    else if (m instanceof Histogram) m.observe(labels, 0.01);
  }
}

/** Every family the binaries export, merged across components. */
export function exportedFamilies(registries = buildRegistries()): Map<string, MetricFamily> {
  const out = new Map<string, MetricFamily>();
  for (const component of components) {
    for (const m of registries[component].getMetricsAsArray()) {
      // prom-client keeps the constructor's labelNames on the metric object; its typings omit it.
      const labels = [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
      const prev = out.get(m.name);
      if (prev === undefined)
        out.set(m.name, { name: m.name, type: String(m.type), labels, components: [component] });
      else prev.components.push(component);
    }
  }
  return out;
}

/** Metric names written as string literals in the binaries' sources (not tests). */
export function metricNamesInSources(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'testdata' && e.name !== 'build') walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        const text = fs.readFileSync(p, 'utf8');
        for (const m of text.matchAll(/['"`]((?:metallb|beacon)_[a-z0-9_]+)['"`]/g))
          if (m[1] !== undefined && !found.has(m[1])) found.set(m[1], path.relative(repoRoot, p));
      }
    }
  };
  for (const d of ['controller', 'speaker', 'lib']) walk(path.join(repoRoot, d));
  return found;
}

export interface DocRow {
  name: string;
  type: string;
  labels: string[];
  components: Component[];
  line: number;
}

/** The reference table of docs/metrics.md: `| name | type | labels | exported by | meaning |`. */
export function parseMetricsDoc(text: string): DocRow[] {
  const rows: DocRow[] = [];
  text.split('\n').forEach((line, i) => {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`([a-z_:][a-z0-9_:]*)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined || cells.length < 7) return;
    const list = (cell: string | undefined): string[] =>
      (cell ?? '')
        .replace(/`/g, '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '' && s !== '–' && s !== '-')
        .sort();
    rows.push({
      name,
      type: cells[2] ?? '',
      labels: list(cells[3]),
      components: list(cells[4]) as Component[],
      line: i + 1,
    });
  });
  return rows;
}

/** Differences between what the binaries export and docs/metrics.md, as sentences. */
export function compareWithDoc(exported: Map<string, MetricFamily>, doc: readonly DocRow[]): string[] {
  const problems: string[] = [];
  const docByName = new Map(doc.map((r) => [r.name, r]));
  for (const f of exported.values()) {
    if (isDefaultMetric(f.name)) continue;
    const row = docByName.get(f.name);
    const want = `| \`${f.name}\` | ${f.type} | ${f.labels.map((l) => `\`${l}\``).join(', ') || '–'} | ${f.components.join(', ')} | <meaning> |`;
    if (row === undefined) {
      problems.push(
        `${f.name} (${f.type}) is exported by the ${f.components.join(' and ')} but missing from docs/metrics.md; add the row: ${want}`,
      );
      continue;
    }
    if (row.type !== f.type)
      problems.push(`docs/metrics.md:${row.line}: ${f.name} is a ${f.type}, the doc says ${row.type}`);
    if (row.labels.join() !== f.labels.join())
      problems.push(
        `docs/metrics.md:${row.line}: ${f.name} has labels [${f.labels.join(', ')}], the doc says [${row.labels.join(', ')}]`,
      );
    if ([...row.components].sort().join() !== [...f.components].sort().join())
      problems.push(
        `docs/metrics.md:${row.line}: ${f.name} is exported by ${f.components.join(', ')}, the doc says ${row.components.join(', ')}`,
      );
  }
  for (const row of doc)
    if (!exported.has(row.name))
      problems.push(
        `docs/metrics.md:${row.line} lists ${row.name}, which neither binary exports (remove the row, or register the metric)`,
      );
  return problems;
}

/**
 * Metric names a PromQL expression selects. Strings, label matchers, grouping clauses,
 * durations and Grafana variables are dropped; an identifier followed by `(` is a function.
 */
export function promqlMetricNames(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  e = e.replace(/\b(offset)\s+\S+/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'inf', 'nan']);
  const names = new Set<string>();
  for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const id = m[1] ?? '';
    if (m[2] !== undefined || keywords.has(id.toLowerCase())) continue;
    names.add(id);
  }
  return [...names];
}

/** A histogram's _bucket/_count/_sum series belong to its family. */
export function familyOf(series: string, exported: Map<string, MetricFamily>): string {
  const m = /^(.*)_(bucket|count|sum)$/.exec(series);
  if (m?.[1] !== undefined && exported.get(m[1])?.type === 'histogram') return m[1];
  return series;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(file = alertsFile): AlertRule[] {
  const doc = yaml.load(fs.readFileSync(file, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

interface Panel {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: string; refId?: string }>;
  panels?: Panel[];
}

export function dashboardQueries(dashboard: { panels?: Panel[] }): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (panels: readonly Panel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? [])
        if (t.expr !== undefined) out.push({ panel: p.title ?? '', refId: t.refId ?? '', expr: t.expr });
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

export function readDashboard(): { panels?: Panel[]; [k: string]: unknown } {
  return JSON.parse(fs.readFileSync(dashboardFile, 'utf8')) as { panels?: Panel[] };
}

/**
 * Grafana's variables, replaced for running a panel's query outside Grafana (promtool, the lab
 * test's Prometheus): `range` is the dashboard's time range, `rateInterval` Grafana's
 * $__rate_interval (at least four scrape intervals).
 */
export function expandGrafanaVariables(expr: string, opts: { range: string; rateInterval: string }): string {
  return expr
    .replace(/\$__rate_interval\b/g, opts.rateInterval)
    .replace(/\$__range\b/g, opts.range)
    .replace(/\$__interval\b/g, opts.rateInterval);
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs promtool (Debian package `prometheus`); a missing binary is a clear error. */
export function promtool(args: readonly string[], opts: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'promtool',
      [...args],
      { cwd: opts.cwd ?? repoRoot, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error('promtool not found: install the Debian package "prometheus" (make debs does)'));
          return;
        }
        const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * `promtool check metrics` findings that are deliberate: MetalLB's own names, kept so that
 * MetalLB's dashboards and alerts keep working (its gauges end in _total, its counters do not).
 */
export const metallbNameFindings: ReadonlyMap<string, string> = new Map([
  ['metallb_allocator_addresses_total', 'gauge with _total: MetalLB name'],
  ['metallb_allocator_addresses_in_use_total', 'gauge with _total: MetalLB name'],
  ['metallb_allocator_ipv4_addresses_total', 'gauge with _total: MetalLB name'],
  ['metallb_allocator_ipv4_addresses_in_use_total', 'gauge with _total: MetalLB name'],
  ['metallb_allocator_ipv6_addresses_total', 'gauge with _total: MetalLB name'],
  ['metallb_allocator_ipv6_addresses_in_use_total', 'gauge with _total: MetalLB name'],
  ['metallb_bgp_announced_prefixes_total', 'gauge with _total: MetalLB name'],
  ['metallb_bgp_updates_total_received', 'counter without _total suffix: MetalLB name'],
  ['metallb_bgp_opens_sent', 'counter without _total suffix: MetalLB name'],
  ['metallb_bgp_opens_received', 'counter without _total suffix: MetalLB name'],
  ['metallb_bgp_notifications_sent', 'counter without _total suffix: MetalLB name'],
  ['metallb_bgp_notifications_received', 'counter without _total suffix: MetalLB name'],
  ['metallb_bfd_session_up_events', 'counter without _total suffix: MetalLB name'],
  ['metallb_bfd_session_down_events', 'counter without _total suffix: MetalLB name'],
  ['metallb_bfd_control_packet_input', 'counter without _total suffix: MetalLB name'],
  ['metallb_bfd_control_packet_output', 'counter without _total suffix: MetalLB name'],
  ['metallb_layer2_requests_received', 'counter without _total suffix: MetalLB name'],
  ['metallb_layer2_responses_sent', 'counter without _total suffix: MetalLB name'],
  ['metallb_layer2_gratuitous_sent', 'counter without _total suffix: MetalLB name'],
]);

/** `promtool check metrics` output lines: "<metric> <problem>". */
export function lintFindings(output: string): Array<{ metric: string; problem: string }> {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const i = l.indexOf(' ');
      return i < 0 ? { metric: l, problem: '' } : { metric: l.slice(0, i), problem: l.slice(i + 1) };
    });
}

/**
 * prometheus-operator's published CRDs (example/prometheus-operator-crd/ of its Go module, a
 * pinned version), downloaded once through the Go module proxy into Beacon's cache, outside
 * the repository. Returns the directory that holds the CRD YAML files.
 */
export const prometheusOperatorModule = 'github.com/prometheus-operator/prometheus-operator@v0.85.0';

export function prometheusOperatorCrds(): Promise<string> {
  const cache =
    process.env.BEACON_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? '/root', '.cache'), 'beacon');
  const env = {
    ...process.env,
    GOMODCACHE: path.join(cache, 'gomod'),
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
  };
  return new Promise((resolve, reject) => {
    execFile(
      'go',
      ['mod', 'download', '-json', prometheusOperatorModule],
      { env, cwd: os.tmpdir(), maxBuffer: 4 << 20, timeout: 300_000 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`go mod download ${prometheusOperatorModule} failed: ${stderr || err.message}`));
          return;
        }
        const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
        const crds = dir === undefined ? '' : path.join(dir, 'example/prometheus-operator-crd');
        if (!fs.existsSync(crds))
          reject(new Error(`${prometheusOperatorModule} has no example/prometheus-operator-crd/`));
        else resolve(crds);
      },
    );
  });
}
