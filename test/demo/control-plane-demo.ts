// `make demo-control-plane`: the control-plane VIP on the lab (e2e/control-plane-lab.ts): three
// control-plane nodes, each with a real kube-apiserver over one etcd and `beacon-speaker
// control-plane`; the client uses https://VIP:6443 with kubectl. One line per step, ✓ when it
// did what it should and ✗ (with the reason) when not; it then leaves everything running until
// `make demo-down` (`down`), which ends the lab's processes by PID and deletes its namespaces.
//   node dist/test/demo/control-plane-demo.js up|down

import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../env/control-plane.js';
import { Lab, nodeHosts, type NodeHost } from '../e2e/lab.js';
import { ControlPlaneLab, cpPort, cpVip, waitFor } from '../e2e/control-plane-lab.js';

const prefix = process.env.LAB_PREFIX ?? 'cpv-';
const stateFile = path.join(repoRoot, '.testenv/demo-control-plane.json');
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).trim();

async function step<T>(ok: (v: T) => string, bad: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    const v = await run();
    say(`✓ ${ok(v)}`);
    return v;
  } catch (err) {
    say(`✗ ${bad}: ${errorText(err)}`);
    return undefined;
  }
}

async function up(): Promise<number> {
  const cpl = new ControlPlaneLab(prefix);
  say(`Beacon control-plane VIP demo on the lab "${prefix}": VIP ${cpVip}:${cpPort}`);
  fs.mkdirSync(path.dirname(stateFile), { recursive: true });
  fs.writeFileSync(stateFile, JSON.stringify({ prefix, dir: cpl.lab.dir }));
  const started = await step(
    () =>
      `lab up: ${nodeHosts.join(', ')} each run kube-apiserver on :${cpPort} (certificate names ${cpVip}) over one etcd, ` +
      'and beacon-speaker control-plane',
    'lab',
    async () => {
      await cpl.up({ guard: false });
      return true;
    },
  );
  if (started === undefined) return 1;
  let failed = 0;
  const owner = await step(
    (n: NodeHost) => `exactly one node answers ARP for ${cpVip}: ${n}`,
    'owner',
    () => cpl.owner(30_000),
  );
  if (owner === undefined) return 1;
  const get = async (): Promise<string> => {
    const r = await cpl.kubectl(['get', 'nodes']);
    if (r.code !== 0) throw new Error(r.stderr.trim());
    return r.stdout.trimEnd();
  };
  say(`$ kubectl --server https://${cpVip}:${cpPort} get nodes     # from the client`);
  const before = await step(
    (out: string) => `the API answers through the VIP:\n${out}`,
    'kubectl through the VIP',
    get,
  );
  if (before === undefined) failed++;
  const apiserver = cpl.apiservers.get(owner)!;
  say(`$ kill -KILL ${apiserver.pid}     # ${owner}'s kube-apiserver`);
  process.kill(apiserver.pid, 'SIGKILL');
  const next = await step(
    (n: NodeHost) => `the VIP moved: ${n} answers ARP for ${cpVip} now`,
    'the VIP did not move',
    () => cpl.owner(30_000, owner),
  );
  if (next === undefined) failed++;
  const after = await step(
    (out: string) => `kubectl through the VIP still works:\n${out}`,
    'kubectl after the kill',
    () => waitFor('kubectl through the VIP', 30_000, () => get().catch(() => undefined)),
  );
  if (after === undefined) failed++;
  say(
    `\nLeft running. From the client: ip netns exec ${cpl.lab.ns('client')} kubectl --kubeconfig ${cpl.kubeconfig} get nodes` +
      `\nLogs: ${path.join(cpl.lab.dir, 'logs')}/   Stop: make demo-down`,
  );
  return failed === 0 ? 0 : 1;
}

async function down(): Promise<number> {
  let state: { prefix: string; dir: string } | undefined;
  try {
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { prefix: string; dir: string };
  } catch {
    return 0;
  }
  const lab = new Lab({ prefix: state.prefix, dir: state.dir });
  await lab.down();
  fs.rmSync(stateFile, { force: true });
  const left = lab.leftovers();
  say(
    left.length === 0
      ? `✓ control-plane VIP lab "${state.prefix}" is down`
      : `✗ left behind: ${left.join(', ')}`,
  );
  return left.length === 0 ? 0 : 1;
}

const command = process.argv[2];
// Exit explicitly: the lab's processes stay up (the demo leaves them running), and their
// handles would keep this process waiting.
if (command === 'up') process.exit(await up());
else if (command === 'down') process.exit(await down());
else {
  process.stderr.write('usage: control-plane-demo.js up|down\n');
  process.exitCode = 2;
}
