// The control plane never outlives its owner: stopping it, or killing the process that
// started it (a test run killed midway), leaves no kube-apiserver, etcd or temp directory.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestEnv, stopTestEnv, type TestEnvState } from '../env/testenv.js';
import { pidAlive } from '../env/pid.js';

async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

function leftovers(state: TestEnvState): string[] {
  const left: string[] = [];
  for (const [name, pid] of Object.entries({ supervisor: state.supervisorPid, ...state.pids }))
    if (pidAlive(pid)) left.push(`${name} pid ${pid}`);
  if (fs.existsSync(state.dir)) left.push(`dir ${state.dir}`);
  if (fs.existsSync(state.kubeconfig)) left.push(`kubeconfig ${state.kubeconfig}`);
  return left;
}

describe('test control plane lifecycle', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-lifecycle-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('stops every process and removes its files when stopped', async () => {
    const stateFile = path.join(tmp, 'a.json');
    const state = await startTestEnv({ stateFile, kubeconfig: path.join(tmp, 'a.kubeconfig') });
    expect(pidAlive(state.pids.apiserver) && pidAlive(state.pids.etcd)).toBe(true);
    await stopTestEnv(stateFile);
    expect(leftovers(state)).toEqual([]);
  });

  it('cleans up by itself when its owner process is killed', async () => {
    const owner = spawn('sleep', ['600']);
    try {
      const stateFile = path.join(tmp, 'b.json');
      const state = await startTestEnv({
        stateFile,
        kubeconfig: path.join(tmp, 'b.kubeconfig'),
        owner: owner.pid!,
      });
      expect(pidAlive(state.pids.apiserver)).toBe(true);
      owner.kill('SIGKILL');
      await eventually(() => leftovers(state).length === 0, 20_000);
      expect(leftovers(state)).toEqual([]);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
