// docs/metrics.md against the registries the binaries build (test/support/monitoring-kit.ts),
// both ways: every exported metric is documented with its type, labels and component, and
// every documented metric is exported. Every metric name the alerting rules and the dashboard
// query is exported (or made by Prometheus itself, like `up`). And `promtool check metrics`
// over both binaries' exposition finds nothing but MetalLB's deliberate names.

import fs from 'node:fs';
import {
  alertRules,
  buildRegistries,
  compareWithDoc,
  components,
  dashboardQueries,
  exportedFamilies,
  familyOf,
  isDefaultMetric,
  lintFindings,
  metallbNameFindings,
  metricNamesInSources,
  metricsDocFile,
  parseMetricsDoc,
  prometheusSeries,
  promqlMetricNames,
  promtool,
  readDashboard,
} from '../support/monitoring-kit.js';

const exported = exportedFamilies();

describe('docs/metrics.md', () => {
  it('documents exactly what the controller and the speaker export, with type, labels and component', () => {
    const problems = compareWithDoc(exported, parseMetricsDoc(fs.readFileSync(metricsDocFile, 'utf8')));
    expect(problems).toEqual([]);
  });

  it('says which name is missing where, both ways', () => {
    const doc = parseMetricsDoc(fs.readFileSync(metricsDocFile, 'utf8'));
    const added = new Map(exported);
    added.set('beacon_layer2_example_total', {
      name: 'beacon_layer2_example_total',
      type: 'counter',
      labels: ['ip'],
      components: ['speaker'],
    });
    expect(compareWithDoc(added, doc)).toEqual([
      'beacon_layer2_example_total (counter) is exported by the speaker but missing from docs/metrics.md; ' +
        'add the row: | `beacon_layer2_example_total` | counter | `ip` | speaker | <meaning> |',
    ]);
    const stale = [...doc, { name: 'metallb_gone', type: 'gauge', labels: [], components: [], line: 99 }];
    expect(compareWithDoc(exported, stale)).toEqual([
      'docs/metrics.md:99 lists metallb_gone, which neither binary exports (remove the row, or register the metric)',
    ]);
  });

  it('is checked against every metric the sources name (a metric registered elsewhere is caught here)', () => {
    const missing = [...metricNamesInSources()]
      .filter(([name]) => !exported.has(familyOf(name, exported)))
      .map(
        ([name, file]) =>
          `${name} (named in ${file}) is not in the registries test/support/monitoring-kit.ts builds: construct its metrics class in buildRegistries() as the binary does`,
      );
    expect(missing).toEqual([]);
  });
});

describe('the monitoring kit names only exported metrics', () => {
  it('reads metric names out of PromQL, not functions, labels, strings or variables', () => {
    expect(
      promqlMetricNames(
        'max by (ip) (increase(beacon_layer2_unowned_seconds_total{node=~"$node"}[1m])) > 5 ' +
          'or on(pool) up{job="x"} - ignoring(le) histogram_quantile(0.9, sum by (le) (rate(a_bucket[$__rate_interval])))',
      ).sort(),
    ).toEqual(['a_bucket', 'beacon_layer2_unowned_seconds_total', 'up']);
  });

  const known = (name: string): boolean =>
    prometheusSeries.has(name) || exported.has(familyOf(name, exported));

  it('alerting rules', () => {
    const rules = alertRules();
    expect(rules.length).toBeGreaterThan(0);
    const unknown = rules.flatMap((r) =>
      promqlMetricNames(r.expr)
        .filter((n) => !known(n))
        .map((n) => `monitoring/alerts.yaml alert ${r.alert} uses ${n}, which neither binary exports`),
    );
    expect(unknown).toEqual([]);
  });

  it('dashboard panels', () => {
    const queries = dashboardQueries(readDashboard());
    expect(queries.length).toBeGreaterThan(0);
    const unknown = queries.flatMap((q) =>
      promqlMetricNames(q.expr)
        .filter((n) => !known(n))
        .map(
          (n) =>
            `monitoring/dashboard.json panel "${q.panel}" (${q.refId}) uses ${n}, which neither binary exports`,
        ),
    );
    expect(unknown).toEqual([]);
  });
});

describe('promtool check metrics', () => {
  const findings = new Map<string, string>();
  beforeAll(async () => {
    const registries = buildRegistries({ samples: true });
    for (const component of components) {
      const run = await promtool(['check', 'metrics'], { input: await registries[component].metrics() });
      for (const f of lintFindings(run.stdout + run.stderr))
        if (!isDefaultMetric(f.metric)) findings.set(f.metric, `${component}: ${f.problem}`);
    }
  });

  it('finds nothing in either binary but the MetalLB names kept on purpose', () => {
    expect([...findings].filter(([name]) => !metallbNameFindings.has(name))).toEqual([]);
  });

  it('finds each name listed as deliberate (the list holds no stale entry)', () => {
    expect([...metallbNameFindings.keys()].filter((n) => !findings.has(n))).toEqual([]);
  });
});
