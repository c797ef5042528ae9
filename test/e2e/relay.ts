// Makes a TCP endpoint of the root namespace (the test control plane on 127.0.0.1) reachable
// from inside lab namespaces at the very same address, so a TLS certificate with SAN 127.0.0.1
// still matches (docs/lab.md). Unix sockets live in the filesystem, which all namespaces share:
//   root ns:    socat UNIX-LISTEN:<dir>/relay-<port>.sock,fork  TCP:<host>:<port>
//   each host:  socat TCP-LISTEN:<port>,bind=127.0.0.1,fork    UNIX-CONNECT:<that socket>
// Both sides are processes the lab tracks: `down()` ends them.

import fs from 'node:fs';
import path from 'node:path';
import { nodeHosts, type Lab, type LabHost, type LabProcess } from './lab.js';

export interface RelayTarget {
  /** Root-namespace address; the lab hosts reach it at 127.0.0.1 (or ::1) and the same port. */
  host: string;
  port: number;
}

export interface Relay {
  socket: string;
  rootPid: number;
  listeners: LabProcess[];
  /** The address to use inside the hosts. */
  url(scheme?: string): string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Parses `https://127.0.0.1:34567` into a relay target. */
export function targetFromUrl(url: string): RelayTarget {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

export async function relayRootEndpoint(
  lab: Lab,
  target: RelayTarget,
  hosts: readonly LabHost[] = nodeHosts,
): Promise<Relay> {
  const v6 = target.host.includes(':');
  const local = v6 ? '::1' : '127.0.0.1';
  const socket = path.join(lab.dir, `relay-${target.port}.sock`);
  const tcp = v6 ? `TCP6:[${target.host}]:${target.port}` : `TCP4:${target.host}:${target.port}`;
  const rootPid = lab.spawnRoot(
    'socat',
    [`UNIX-LISTEN:${socket},fork,unlink-early,mode=600`, tcp],
    `relay-${target.port}-root.log`,
  );
  for (let i = 0; i < 200 && !fs.existsSync(socket); i++) await sleep(10);
  if (!fs.existsSync(socket)) throw new Error(`relay socket ${socket} did not appear`);
  const listen = v6
    ? `TCP6-LISTEN:${target.port},bind=[::1],reuseaddr,fork`
    : `TCP4-LISTEN:${target.port},bind=127.0.0.1,reuseaddr,fork`;
  const listeners = hosts.map((h) => lab.spawn(h, 'socat', [listen, `UNIX-CONNECT:${socket}`]));
  // Ready once every host has the listener (ss runs in the host's namespace).
  for (const [i, h] of hosts.entries()) {
    for (let n = 0; ; n++) {
      const res = await lab.exec(h, 'ss', ['-Hltn', `sport = :${target.port}`], { check: false });
      if (res.stdout.trim() !== '') break;
      const proc = listeners[i];
      if (n > 200 || (proc && proc.child.exitCode !== null))
        throw new Error(`relay listener in ${lab.ns(h)} did not start (see ${proc?.logFile})`);
      await sleep(10);
    }
  }
  const hostPart = v6 ? `[${local}]` : local;
  return {
    socket,
    rootPid,
    listeners,
    url: (scheme = 'https') => `${scheme}://${hostPart}:${target.port}`,
  };
}
