// make testenv-up / testenv-down: a control plane that outlives the command, for kubectl and
// for running tests against it. Writes .testenv/kubeconfig (contexts admin, controller, speaker).

import path from 'node:path';
import { repoRoot } from './control-plane.js';
import { startTestEnv, stopTestEnv } from './testenv.js';

const dir = path.join(repoRoot, '.testenv');
const stateFile = path.join(dir, 'state.json');
const kubeconfig = path.join(dir, 'kubeconfig');

const cmd = process.argv[2];
if (cmd === 'up') {
  await stopTestEnv(stateFile);
  const t = Date.now();
  const state = await startTestEnv({ stateFile, kubeconfig });
  process.stdout.write(
    `control plane ready in ${((Date.now() - t) / 1000).toFixed(1)} s at ${state.server}\n` +
      `  kubectl --kubeconfig ${path.relative(process.cwd(), kubeconfig) || kubeconfig} get ns\n` +
      `  contexts: admin (default), controller, speaker\n`,
  );
} else if (cmd === 'down') {
  const stopped = await stopTestEnv(stateFile);
  process.stdout.write(stopped ? 'control plane stopped\n' : 'no control plane was running\n');
} else {
  process.stderr.write('usage: cli.js up|down\n');
  process.exit(2);
}
