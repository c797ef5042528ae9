// Owns one control plane for its whole life, detached from whoever started it. It writes a
// state file when the control plane is ready, and stops it (by PID) and removes every file it
// made on SIGTERM/SIGINT, or as soon as its owner process (e.g. the Jest run) has gone, so a
// crashed or interrupted test run leaves nothing behind.
//
//   node dist/test/env/supervisor.js --state FILE --kubeconfig FILE [--owner PID]

import fs from 'node:fs';
import { ControlPlane, writeKubeconfig } from './control-plane.js';
import { installBeacon } from './install.js';
import { pidAlive } from './pid.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const stateFile = arg('state');
const kubeconfig = arg('kubeconfig');
const owner = arg('owner') ? Number(arg('owner')) : undefined;
if (!stateFile || !kubeconfig) {
  process.stderr.write('usage: supervisor --state FILE --kubeconfig FILE [--owner PID]\n');
  process.exit(2);
}

function writeState(obj: object): void {
  fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify(obj, null, 2));
  fs.renameSync(`${stateFile}.tmp`, stateFile!);
}

let cp: ControlPlane | undefined;
// One stop for every trigger (signals, the owner watch firing again while we stop): exiting
// before the first stop finishes would orphan etcd.
let stopping: Promise<never> | undefined;
function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    await cp?.stop();
    fs.rmSync(kubeconfig!, { force: true });
    fs.rmSync(stateFile!, { force: true });
    process.exit(code);
  })();
  return stopping;
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
process.on('SIGHUP', () => void stop(0));
if (owner !== undefined) setInterval(() => pidAlive(owner) || void stop(0), 500).unref();

try {
  const started = Date.now();
  cp = await ControlPlane.start();
  writeKubeconfig(cp.state, kubeconfig);
  await installBeacon(kubeconfig);
  writeState({
    ready: true,
    supervisorPid: process.pid,
    kubeconfig,
    startMs: Date.now() - started,
    ...cp.state,
  });
  // Keep the event loop alive until a signal or the owner's death stops us.
  setInterval(() => undefined, 1 << 30);
} catch (err) {
  writeState({
    ready: false,
    supervisorPid: process.pid,
    error: err instanceof Error ? err.message : String(err),
  });
  await cp?.stop();
  fs.rmSync(kubeconfig, { force: true });
  process.exit(1);
}
