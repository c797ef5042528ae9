// `make demo-bgp`: the pieces the BGP variant of the demo adds to the layer 2 one. BIRD 2 in
// the router namespace, peering passively with the three nodes over iBGP (AS 64500, as
// test/e2e/bgp-mode.test.ts runs it), started detached and recorded like Beacon's processes
// so that `demo down` ends it by PID; and the client's route to the Service IP via the router.
//
// The layer 2 example's 192.168.10.0/24 is on-link for the client (the L2 demo needs that), so without a
// host route the client would ARP for 192.168.10.222 and never ask the router: the demo adds
// 192.168.10.222/32 via 10.77.0.1 in the client namespace, which the lab deletes with it.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { hostV4, labNet, nodeHosts, type Lab } from '../e2e/lab.js';
import { birdConfig, socketAnswers, type BfdOptions } from '../e2e/router.js';
import { startTracked, trackedAlive, type TrackedProcess } from './processes.js';

export interface BirdFiles {
  dir: string;
  conf: string;
  socket: string;
  log: string;
  out: string;
  pid: string;
}

export function birdFiles(demoDir: string): BirdFiles {
  const dir = path.join(demoDir, 'bird');
  return {
    dir,
    conf: path.join(dir, 'bird.conf'),
    socket: path.join(dir, 'bird.ctl'),
    log: path.join(dir, 'bird.log'),
    out: path.join(dir, 'bird.out'),
    pid: path.join(dir, 'bird.pid'),
  };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Writes the router's BIRD configuration (iBGP with each node's 10.77.0.x address, routes
 * exported to the kernel FIB, equal paths merged into one multipath route) and starts BIRD
 * in the router namespace, with BFD on every session when `bfd` is given (the failover
 * benchmark). Resolves once its control socket answers.
 *
 * With BFD, BIRD runs real-time (SCHED_RR 5, below the speakers' BFD sender at 10). The router
 * stands for another machine with CPUs of its own; on the lab's two cores it shares them with
 * the CPU hogs the load tests run, and a BIRD starved for 300 ms declares every speaker's
 * session down at once, or lets the speakers declare it down — a failure of the stand-in, not
 * of the speakers under test. Nice −10 was not enough: with autogroup (sched(7)) nice only
 * orders threads inside their own group, and BIRD's group waited for the hogs' (the
 * 10,000-Service churn saw both sides' detection fire together twice).
 */
export async function startBird(lab: Lab, files: BirdFiles, bfd?: BfdOptions): Promise<TrackedProcess> {
  fs.mkdirSync(files.dir, { recursive: true });
  const peers = nodeHosts.map((n) => ({ address: hostV4(n), asn: labNet.routerAsn }));
  const config = birdConfig({ asn: labNet.routerAsn, peers, ...(bfd ? { bfd } : {}) }, files.log);
  fs.writeFileSync(files.conf, config);
  await run('bird', ['-p', '-c', files.conf]); // parse check: a clear error, not a dead daemon
  const argv = ['ip', 'netns', 'exec', lab.ns('router'), ...(bfd ? ['chrt', '--rr', '5'] : []), 'bird'];
  argv.push('-f', '-c', files.conf);
  argv.push('-s', files.socket, '-P', files.pid);
  const bird = await startTracked(argv, files.out, ['bird', '-f']);
  const deadline = Date.now() + 10_000;
  while (!(await socketAnswers(files.socket))) {
    if (!trackedAlive(bird)) throw new Error(`bird exited; see ${files.out} and ${files.log}`);
    if (Date.now() > deadline)
      throw new Error(`bird's control socket ${files.socket} did not answer in 10 s`);
    await sleep(50);
  }
  return bird;
}

/** `birdc -s <socket> <command...>`. */
export function birdc(files: BirdFiles, command: string): Promise<string> {
  return run('birdc', ['-s', files.socket, ...command.split(' ')]);
}

/** The BGP protocols of `birdc show protocols` that are Established (their names). */
export function parseEstablished(showProtocols: string): string[] {
  return showProtocols
    .split('\n')
    .filter((l) => /\sBGP\s/.test(l) && /\bEstablished\b/.test(l))
    .map((l) => l.split(/\s+/)[0] ?? '');
}

/** Sends the client's traffic for `ip` to the router (see the header). */
export async function routeClientViaRouter(lab: Lab, ip: string): Promise<void> {
  await lab.exec('client', 'ip', ['route', 'replace', `${ip}/32`, 'via', hostV4('router')]);
}
