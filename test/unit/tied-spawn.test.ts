import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { tiedCommand } from '../support/tied-spawn.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('tiedCommand', () => {
  it('runs the command, which the kernel ends when the process that started it is SIGKILLed', async () => {
    // A parent that starts `sleep 60` the way spawnTied does, prints its PID, and waits.
    const [file, args] = tiedCommand('sleep', ['60']);
    const script =
      `const c = require('node:child_process').spawn(${JSON.stringify(file)}, ${JSON.stringify(args)}, ` +
      `{ stdio: 'ignore' }); c.on('spawn', () => console.log(c.pid)); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let child: number | undefined;
    try {
      child = await new Promise<number>((resolve, reject) => {
        parent.stdout.setEncoding('utf8');
        parent.stdout.once('data', (d: string) => resolve(Number(d.trim())));
        parent.once('exit', () => reject(new Error('the parent exited before starting its child')));
      });
      // setpriv execs sleep in place: same PID, now running sleep.
      const deadline = Date.now() + 10_000;
      while (!/\bsleep\b/.test(await readCmdline(child)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(await readCmdline(child)).toMatch(/^sleep\b/);
      parent.kill('SIGKILL');
      const gone = Date.now() + 10_000;
      while (alive(child) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
      expect(alive(child)).toBe(false);
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      if (child !== undefined && alive(child)) process.kill(child, 'SIGKILL');
    }
  }, 30_000);
});

async function readCmdline(pid: number): Promise<string> {
  return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
}
