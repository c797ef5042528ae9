// What the daemons' module graphs cost before they hold any object: a fresh Node.js process
// imports the modules below one after another and prints its resident set and V8 heap after
// each (garbage collected first). The first line is bare Node.js. Run after `make build`:
//
//   node --expose-gc dist/test/bench/module-memory.js

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../env/control-plane.js';

const modules = [
  'lib/kube/kubeconfig.js',
  'lib/kube/client.js',
  'lib/kube/reflector.js',
  'lib/config/source.js',
  'controller/allocator/allocator.js',
  'controller/service-reconciler.js',
  'controller/metrics.js',
  'speaker/layer2/mode.js',
  'speaker/bgp/mode.js',
];

const script = `
const show = (what) => { gc(); gc(); const u = process.memoryUsage();
  console.log(JSON.stringify({ what, rss: u.rss, heap: u.heapUsed })); };
show('node');
for (const m of process.argv.slice(1)) { await import(m); show(m); }
`;

const out = execFileSync(
  process.execPath,
  ['--expose-gc', '--input-type=module', '-e', script, ...modules.map((m) => path.join(repoRoot, 'dist', m))],
  { encoding: 'utf8' },
);
process.stdout.write('| after importing | RSS (MB) | V8 heap used (MB) |\n|---|---:|---:|\n');
for (const line of out.trim().split('\n')) {
  const r = JSON.parse(line) as { what: string; rss: number; heap: number };
  const name = r.what === 'node' ? 'bare Node.js' : path.relative(path.join(repoRoot, 'dist'), r.what);
  process.stdout.write(`| ${name} | ${(r.rss / 1e6).toFixed(0)} | ${(r.heap / 1e6).toFixed(1)} |\n`);
}
