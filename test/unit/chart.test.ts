// The Helm chart (charts/beacon) against its sources: `helm template` output equals the golden
// files in test/unit/chart/ (regenerate them with `make chart-golden` after a deliberate
// change), the chart's CRDs are byte-for-byte the repository's crds/, its RBAC rules are those
// of manifests/rbac.yaml (which the integration tests prove), and kustomization.yaml installs
// every CRD. Runs helm built from the pinned module (test/env/build-helm.sh).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yaml from 'js-yaml';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const chart = path.join(root, 'charts/beacon');
const here = path.join(root, 'test/unit/chart');
const writeGolden = process.env.BEACON_WRITE_GOLDEN === '1';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: unknown[];
  spec?: Record<string, unknown>;
}

let helm = '';
beforeAll(async () => {
  const { stdout } = await run(path.join(root, 'test/env/build-helm.sh'), [], { maxBuffer: 1 << 20 });
  helm = stdout.trim().split('\n').pop() ?? '';
}, 1_800_000);

async function template(valuesFile?: string): Promise<string> {
  const args = ['template', 'beacon', chart, '--namespace', 'metallb-system'];
  if (valuesFile) args.push('--values', path.join(here, valuesFile));
  const { stdout } = await run(helm, args, { maxBuffer: 64 << 20 });
  return stdout;
}

function objects(text: string): K8sObject[] {
  return (yaml.loadAll(text) as (K8sObject | null)[]).filter((o): o is K8sObject => o !== null);
}

function compareGolden(name: string, rendered: string): void {
  const file = path.join(here, name);
  if (writeGolden) {
    fs.writeFileSync(file, rendered);
    return;
  }
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`make chart-golden\``);
  expect(rendered).toBe(fs.readFileSync(file, 'utf8'));
}

describe('helm template', () => {
  it('renders the default values as the golden file', async () => {
    compareGolden('golden-default.yaml', await template());
  });

  it('renders MetalLB-named options (class, monitors, scheduling) as the golden file', async () => {
    compareGolden('golden-options.yaml', await template('values-options.yaml'));
  });

  it('with defaults, installs a 2-replica non-root controller and a speaker with only NET_RAW and SYS_NICE added', async () => {
    const objs = objects(await template());
    const deploy = objs.find((o) => o.kind === 'Deployment');
    const ds = objs.find((o) => o.kind === 'DaemonSet');
    expect(deploy?.metadata.name).toBe('beacon-controller');
    expect(ds?.metadata.name).toBe('beacon-speaker');
    const dSpec = deploy?.spec as { replicas: number; template: { spec: PodSpec } };
    expect(dSpec.replicas).toBe(2);
    const cPod = dSpec.template.spec;
    expect(cPod.securityContext?.runAsNonRoot).toBe(true);
    expect(cPod.containers[0]?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const sPod = (ds?.spec as { template: { spec: PodSpec } }).template.spec;
    expect(sPod.hostNetwork).toBe(true);
    expect(sPod.containers[0]?.securityContext).toMatchObject({
      runAsUser: 0,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['NET_RAW', 'SYS_NICE'] },
    });
    expect(sPod.containers[0]?.image).toBe(`localhost/beacon:${chartAppVersion()}`);
  });

  it('adds NET_BIND_SERVICE only for a BGP listen port below 1024', async () => {
    const caps = async (port: string): Promise<unknown> => {
      const { stdout } = await run(
        helm,
        [
          'template',
          'beacon',
          chart,
          '--namespace',
          'metallb-system',
          '--set',
          `speaker.bgpListenPort=${port}`,
        ],
        { maxBuffer: 64 << 20 },
      );
      const ds = objects(stdout).find((o) => o.kind === 'DaemonSet');
      return (ds?.spec as { template: { spec: PodSpec } }).template.spec.containers[0]?.securityContext
        ?.capabilities?.add;
    };
    expect(await caps('179')).toEqual(['NET_RAW', 'SYS_NICE', 'NET_BIND_SERVICE']);
    expect(await caps('1179')).toEqual(['NET_RAW', 'SYS_NICE']);
  });

  it('has a PrometheusRule from monitoring/alerts.yaml, or says the rules are missing', async () => {
    const copy = path.join(chart, 'files/alerts.yaml');
    if (fs.existsSync(copy)) {
      compareGolden('golden-prometheus-rule.yaml', await template('values-prometheus-rule.yaml'));
      const source = path.join(root, 'monitoring/alerts.yaml');
      expect(fs.readFileSync(copy, 'utf8')).toBe(fs.readFileSync(source, 'utf8'));
    } else {
      await expect(template('values-prometheus-rule.yaml')).rejects.toThrow(/has no files\/alerts\.yaml/);
    }
  });
});

describe('one source for the CRDs and the RBAC rules', () => {
  it('ships crds/ unchanged in the chart', () => {
    const files = fs.readdirSync(path.join(root, 'crds')).sort();
    expect(fs.readdirSync(path.join(chart, 'crds')).sort()).toEqual(files);
    for (const f of files) {
      expect(fs.readFileSync(path.join(chart, 'crds', f), 'utf8')).toBe(
        fs.readFileSync(path.join(root, 'crds', f), 'utf8'),
      );
    }
  });

  it('lists every CRD and manifest in kustomization.yaml', () => {
    const k = yaml.load(fs.readFileSync(path.join(root, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    const crds = fs.readdirSync(path.join(root, 'crds')).map((f) => `crds/${f}`);
    const manifests = fs
      .readdirSync(path.join(root, 'manifests'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `manifests/${f}`);
    expect([...k.resources].sort()).toEqual([...crds, ...manifests].sort());
  });

  it('grants the chart the same RBAC rules as manifests/rbac.yaml', async () => {
    const rules = (objs: K8sObject[]): Record<string, unknown[]> => {
      const out: Record<string, unknown[]> = {};
      for (const o of objs) {
        if (o.kind !== 'Role' && o.kind !== 'ClusterRole') continue;
        const component = /controller/.test(o.metadata.name) ? 'controller' : 'speaker';
        out[`${o.kind}/${component}`] = o.rules ?? [];
      }
      return out;
    };
    const manifest = objects(fs.readFileSync(path.join(root, 'manifests/rbac.yaml'), 'utf8'));
    const fromChart = rules(objects(await template()));
    expect(Object.keys(fromChart).sort()).toEqual([
      'ClusterRole/controller',
      'ClusterRole/speaker',
      'Role/controller',
      'Role/speaker',
    ]);
    expect(fromChart).toEqual(rules(manifest));
  });
});

interface PodSpec {
  hostNetwork?: boolean;
  securityContext?: { runAsNonRoot?: boolean };
  containers: {
    image: string;
    securityContext?: { capabilities?: { add?: string[] } } & Record<string, unknown>;
  }[];
}

function chartAppVersion(): string {
  const c = yaml.load(fs.readFileSync(path.join(chart, 'Chart.yaml'), 'utf8')) as { appVersion: string };
  return c.appVersion;
}
