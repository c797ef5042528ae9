// make demo / make demo-down (root only):
//   node dist/test/demo.js up     brings the demo up, prints how far Beacon got, leaves it running
//   node dist/test/demo.js up-bgp the same in BGP mode (also `up --bgp`): the layer 2 example's Service
//                                 announced from the three nodes to BIRD on the router
//   node dist/test/demo.js down   stops everything the demo started
// BEACON_DEMO_PREFIX selects the lab prefix (default bcn-), BEACON_DEMO_DIR the state
// directory (default .testenv/demo). `up` exits 0 once it has printed its report, whatever
// Beacon did; it exits 1 (after tearing down what it started) only when the demo itself could
// not be set up, and tears down on Ctrl-C.

import { isRoot } from './e2e/lab.js';
import { DemoAborted, defaultDir, defaultPrefix, demoDown, demoUp } from './demo/demo.js';

const usage =
  'usage: demo.js up|up-bgp|down  (env: BEACON_DEMO_PREFIX, default bcn-; BEACON_DEMO_DIR, default .testenv/demo)';

async function main(): Promise<number> {
  const cmd = process.argv[2];
  const bgp = cmd === 'up-bgp' || (cmd === 'up' && process.argv.slice(3).includes('--bgp'));
  if (cmd !== 'up' && cmd !== 'up-bgp' && cmd !== 'down') {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  if (!isRoot()) {
    process.stderr.write('the demo needs root (network namespaces)\n');
    return 1;
  }
  const dir = process.env.BEACON_DEMO_DIR || defaultDir;
  if (cmd === 'down') return (await demoDown({ dir })).length === 0 ? 0 : 1;

  const prefix = process.env.BEACON_DEMO_PREFIX ?? defaultPrefix;
  let tearingDown = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (tearingDown) return;
    tearingDown = true;
    process.stderr.write(`\n${sig}: tearing the demo down\n`);
    void demoDown({ dir }).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await demoUp({ prefix, dir, mode: bgp ? 'bgp' : 'l2' });
    return 0;
  } catch (err) {
    if (!(err instanceof DemoAborted))
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.stderr.write('the demo could not be set up: tearing down what it started\n');
    tearingDown = true;
    await demoDown({ dir });
    return 1;
  }
}

// Exit explicitly: the kube-proxy stand-in's servers keep pipes to this process open, and
// they must outlive it.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
