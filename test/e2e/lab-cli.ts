// The network lab from the shell (root only):
//   node dist/test/e2e/lab-cli.js up [--prefix bcn-] [--relay 127.0.0.1:6443] [--hold]
//   node dist/test/e2e/lab-cli.js down [--prefix bcn-]
//   node dist/test/e2e/lab-cli.js status [--prefix bcn-]
// `up` tears the lab down again if it fails or is interrupted (Ctrl-C, SIGTERM). With --hold
// it stays in the foreground and tears the lab down on Ctrl-C. --relay makes a root-namespace
// TCP endpoint (the control plane) reachable at the same address from every node.

import { parseArgs } from 'node:util';
import { Lab, installTeardownHandlers, isRoot } from './lab.js';
import { relayRootEndpoint } from './relay.js';

const usage = 'usage: lab-cli up|down|status [--prefix P] [--relay HOST:PORT] [--hold]';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      prefix: { type: 'string' },
      relay: { type: 'string' },
      hold: { type: 'boolean', default: false },
    },
  });
  const cmd = positionals[0];
  if (!cmd || !['up', 'down', 'status'].includes(cmd)) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  if (!isRoot()) {
    process.stderr.write('the network lab needs root (network namespaces)\n');
    return 1;
  }
  const lab = new Lab(values.prefix !== undefined ? { prefix: values.prefix } : {});
  if (cmd === 'down') {
    await lab.down();
    lab.assertClean();
    process.stdout.write(`lab "${lab.prefix}" is down\n`);
    return 0;
  }
  if (cmd === 'status') {
    process.stdout.write(await lab.status());
    const left = lab.leftovers();
    if (left.length > 0) process.stdout.write(`present:\n  ${left.join('\n  ')}\n`);
    return 0;
  }
  // up: whatever happens before we are done (error, Ctrl-C, SIGTERM) tears the lab down.
  const removeHandlers = installTeardownHandlers(lab);
  const started = Date.now();
  await lab.up();
  if (values.relay) {
    const m = /^(.+):(\d+)$/.exec(values.relay);
    if (!m?.[1] || !m[2]) throw new Error(`--relay "${values.relay}": expected HOST:PORT`);
    await relayRootEndpoint(lab, { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) });
  }
  process.stdout.write(`lab "${lab.prefix}" is up in ${Date.now() - started} ms (state in ${lab.dir})\n`);
  process.stdout.write(await lab.status());
  if (!values.hold) {
    removeHandlers();
    return 0;
  }
  process.stdout.write('holding the lab; Ctrl-C tears it down\n');
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
