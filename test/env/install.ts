// Installs Beacon's API into a test control plane the way an operator would: `kubectl apply`
// of the CRDs and of the RBAC manifests (namespace, service accounts, roles, bindings).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { controlPlaneBinaries, repoRoot } from './control-plane.js';

const run = promisify(execFile);

/** Manifests that need no kubelet: everything but the workloads. */
export const apiManifests = ['manifests/namespace.yaml', 'manifests/rbac.yaml'];

export async function kubectl(kubeconfig: string, args: string[], context?: string): Promise<string> {
  const bin = path.join(await controlPlaneBinaries(), 'kubectl');
  const ctx = context ? [`--context=${context}`] : [];
  const { stdout } = await run(bin, [`--kubeconfig=${kubeconfig}`, ...ctx, ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

export async function installBeacon(kubeconfig: string): Promise<void> {
  const crds = path.join(repoRoot, 'crds');
  if (fs.existsSync(crds)) {
    await kubectl(kubeconfig, ['apply', '--server-side', '-f', crds]);
    await kubectl(kubeconfig, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  }
  for (const m of apiManifests) await kubectl(kubeconfig, ['apply', '-f', path.join(repoRoot, m)]);
}
