// The two binaries start, log structured JSON, answer /healthz, and exit cleanly on SIGTERM.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, repoRoot } from '../env/control-plane.js';
import { testEnv } from '../env/testenv.js';

const bins = {
  'beacon-controller': path.join(repoRoot, 'dist/controller/main.js'),
  'beacon-speaker': path.join(repoRoot, 'dist/speaker/main.js'),
};

function runToExit(
  bin: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.each(Object.entries(bins))('%s', (name, bin) => {
  it('prints --help with the shared flags', async () => {
    const { code, stdout } = await runToExit(bin, ['--help']);
    expect(code).toBe(0);
    for (const flag of ['--kubeconfig', '--namespace', '--metrics-port', '--log-level'])
      expect(stdout).toContain(flag);
    expect(stdout).toContain('default "metallb-system"');
    if (name === 'beacon-speaker') expect(stdout).toContain('--node-name');
  });

  it('rejects a bad flag with exit code 2 and a message naming it', async () => {
    const { code, stderr } = await runToExit(bin, ['--metrics-port', 'x']);
    expect(code).toBe(2);
    expect(stderr).toContain('--metrics-port "x"');
  });

  it('starts, serves /healthz, logs JSON and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const args = [
      '--kubeconfig',
      testEnv().kubeconfig,
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      String(port),
    ];
    if (name === 'beacon-speaker') args.push('--node-name', 'node1');
    const child = spawn(process.execPath, [bin, ...args]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let health = 0;
    for (let i = 0; i < 100 && health !== 200; i++) {
      health = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (health !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(health).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const entries = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; component: string; msg: string });
    expect(entries[0]).toMatchObject({ level: 'info', component: name, msg: 'starting' });
    expect(entries.map((e) => e.msg)).toContain('stopped');
  });
});

describe('beacon-speaker as its ServiceAccount', () => {
  it('loads the shared configuration (metallb.io objects and Secrets) with its own RBAC', async () => {
    const env = testEnv();
    const kubeconfig = path.join(path.dirname(env.kubeconfig), 'speaker-only.kubeconfig');
    const doc = JSON.parse(fs.readFileSync(env.kubeconfig, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(kubeconfig, JSON.stringify({ ...doc, 'current-context': 'speaker' }));
    const port = await freePort();
    const child = spawn(process.execPath, [
      bins['beacon-speaker'],
      '--kubeconfig',
      kubeconfig,
      '--node-name',
      'node1',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      String(port),
    ]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      const loaded = stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; node?: string; level: string })
        .find((e) => e.msg === 'configuration loaded');
      expect(loaded).toMatchObject({ node: 'node1', level: 'info' });
      expect(stderr).not.toContain('forbidden');
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
      expect(metrics).toContain('metallb_k8s_client_config_loaded_bool 1');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      fs.rmSync(kubeconfig, { force: true });
    }
  });
});
