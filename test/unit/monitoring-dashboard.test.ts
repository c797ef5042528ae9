// The Grafana dashboard (monitoring/dashboard.json) and its ConfigMap: one source, valid PromQL
// in every panel, the Prometheus data source chosen by a variable, and panels that cover what
// an operator asks first.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import {
  dashboardConfigMapFile,
  dashboardQueries,
  expandGrafanaVariables,
  promtool,
  readDashboard,
} from '../support/monitoring-kit.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
}

describe('monitoring/dashboard.json', () => {
  const dashboard = readDashboard() as {
    panels: Panel[];
    uid?: string;
    templating?: { list: Array<{ name: string; type: string }> };
  };

  it('is what the ConfigMap for Grafana’s sidecar holds (regenerate with make monitoring)', () => {
    const cm = yaml.load(fs.readFileSync(dashboardConfigMapFile, 'utf8')) as {
      kind: string;
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(cm.kind).toBe('ConfigMap');
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(cm.data['beacon.json'] ?? '')).toEqual(dashboard);
  });

  it('has unique panel ids inside a 24-column grid, and takes its Prometheus from a variable', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos && p.gridPos.x + p.gridPos.w <= 24).toBe(true);
      if (p.type !== 'row')
        expect({ panel: p.title, ds: p.datasource }).toEqual({
          panel: p.title,
          ds: { type: 'prometheus', uid: '${datasource}' },
        });
    }
    expect(dashboard.templating?.list).toEqual([
      expect.objectContaining({ name: 'datasource', type: 'datasource' }),
    ]);
  });

  it('answers the operator’s questions: pools, who announces, BGP/BFD, failovers, unowned time, pending, config', () => {
    const text = dashboardQueries(dashboard)
      .map((q) => q.expr)
      .join('\n');
    for (const metric of [
      'metallb_allocator_addresses_in_use_total',
      'beacon_layer2_announcing_since_timestamp_seconds',
      'metallb_speaker_announced',
      'metallb_bgp_session_up',
      'metallb_bfd_session_up',
      'beacon_layer2_failover_seconds_bucket',
      'beacon_layer2_unowned_seconds_total',
      'beacon_services_pending',
      'metallb_k8s_client_config_stale_bool',
    ])
      expect(text).toContain(metric);
  });

  it('has only queries promtool parses (checked as recording rules)', async () => {
    const queries = dashboardQueries(dashboard);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-dashboard-'));
    try {
      const rules = {
        groups: [
          {
            name: 'dashboard',
            rules: queries.map((q, i) => ({
              record: `dashboard:query_${i}`,
              expr: expandGrafanaVariables(q.expr, { range: '1h', rateInterval: '1m' }),
            })),
          },
        ],
      };
      const file = path.join(dir, 'queries.yaml');
      fs.writeFileSync(file, yaml.dump(rules));
      const run = await promtool(['check', 'rules', file]);
      expect(run.stdout + run.stderr).toContain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
