// The prometheus-operator objects of monitoring/ against prometheus-operator's own CRD schemas
// (its published CRDs, from its Go module, applied to the real test API server): the
// PodMonitors and ServiceMonitors apply with strict field validation, and so does a
// PrometheusRule that carries monitoring/alerts.yaml, as the Helm chart wraps it. A monitor with
// a field the schema does not know, or a value it does not allow, is refused.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { testEnv } from '../env/testenv.js';
import { alertsFile, prometheusOperatorCrds, repoRoot } from '../support/monitoring-kit.js';

const env = testEnv();
const crdNames = ['podmonitors', 'servicemonitors', 'prometheusrules'];
let tmp = '';

const apply = (file: string): Promise<string> => env.kubectl(['apply', '--validate=strict', '-f', file]);
const failure = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (err: Error) => err.message,
  );

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-monitors-'));
  const dir = await prometheusOperatorCrds();
  for (const n of crdNames)
    await env.kubectl(['apply', '--server-side', '-f', path.join(dir, `monitoring.coreos.com_${n}.yaml`)]);
  await env.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crdNames.map((n) => `crd/${n}.monitoring.coreos.com`),
  ]);
  await env.kubectl(['create', 'namespace', 'metallb-system']).catch(() => '');
}, 300_000);

afterAll(async () => {
  for (const f of ['podmonitors.yaml', 'servicemonitors.yaml'])
    await env
      .kubectl(['delete', '--ignore-not-found', '-f', path.join(repoRoot, 'monitoring', f)])
      .catch(() => '');
  await env
    .kubectl(['delete', '--ignore-not-found', 'prometheusrule', 'beacon', '-n', 'metallb-system'])
    .catch(() => '');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('monitoring/ against prometheus-operator’s CRDs', () => {
  it.each(['podmonitors.yaml', 'servicemonitors.yaml'])('%s applies with strict validation', async (file) => {
    const out = await apply(path.join(repoRoot, 'monitoring', file));
    expect(out).toMatch(/(created|configured|unchanged)/);
    const [kind, endpoints] = file.startsWith('pod')
      ? ['podmonitors', 'podMetricsEndpoints']
      : ['servicemonitors', 'endpoints'];
    const job = await env.kubectl([
      'get',
      kind,
      'beacon-speaker',
      '-n',
      'metallb-system',
      '-o',
      `jsonpath={.spec.${endpoints}[0].interval} {.spec.${endpoints}[0].relabelings[0].replacement}`,
    ]);
    expect(job).toBe('15s beacon-speaker');
  });

  it('a PrometheusRule carrying monitoring/alerts.yaml applies', async () => {
    const groups = (yaml.load(fs.readFileSync(alertsFile, 'utf8')) as { groups: unknown[] }).groups;
    const file = path.join(tmp, 'rule.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'beacon', namespace: 'metallb-system' },
        spec: { groups },
      }),
    );
    expect(await apply(file)).toContain('created');
  });

  it('refuses a monitor with an unknown field or an invalid interval, naming the field', async () => {
    const bad = (endpoint: Record<string, unknown>, name: string): string => {
      const file = path.join(tmp, `${name}.json`);
      fs.writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PodMonitor',
          metadata: { name, namespace: 'metallb-system' },
          spec: { selector: {}, podMetricsEndpoints: [{ port: 'monitoring', ...endpoint }] },
        }),
      );
      return file;
    };
    expect(await failure(apply(bad({ intervall: '15s' }, 'typo')))).toMatch(/unknown field.*intervall/);
    expect(await failure(apply(bad({ interval: '15 seconds' }, 'interval')))).toMatch(/interval/);
  });
});
