// Layer 2 mode: this node answers ARP/NDP for the Service IPs it owns.
//
// Wiring, on every change of configuration, cluster view, membership or local health:
//   plan (planL2: which nodes may announce each IP) → own (RingOwnership: the membership worker
//   ranks the live eligible nodes of each IP, rendezvous order, and holds the lease) →
//   responder.setOwned(the IPs this node may answer, with their interfaces) → on a gained
//   placement, announcer.takeOver (gratuitous ARP / unsolicited NA at once and repeated).
// Membership datagrams go over UDP on --memberlist-port to every Node's first InternalIP,
// authenticated with the key of Secret `memberlist` (data.secretkey) in the speaker's
// namespace. Without that key the speaker announces nothing and says why: an unauthenticated
// membership would let any host on the node network take Service IPs over.
//
// Local health, which peers learn through membership: linkUp = an eligible interface has
// carrier; responderOk = a packet socket can be opened (CAP_NET_RAW) and the responder reports
// no socket failure.
//
// SIGTERM (stop): stop answering, tell the peers this node left (the next owners announce
// within one network delay), then close sockets and delete our ServiceL2Status.

import { performance } from 'node:perf_hooks';
import type { Config } from '../../lib/config/types.js';
import { formatIP } from '../../lib/ip/index.js';
import type { FlagSpec } from '../../lib/flags.js';
import type { ClusterSnapshot } from '../cluster/view.js';
import { Announcer, gratuitousFrames } from './responder/announcer.js';
import {
  DEFAULT_EXCLUDED_INTERFACES,
  eligibleInterfaces,
  InterfaceWatcher,
  type InterfaceSnapshot,
} from './responder/interfaces.js';
import { Responder, type OwnedIp } from './responder/responder.js';
import { StrictArpCheck } from './responder/strict-arp.js';
import type { Peer } from './membership/types.js';
import { ETH_P_ARP, PacketSocket } from '../native/index.js';
import { planL2, type L2Plan } from './plan/index.js';
import type { Protocol, ProtocolContext, RunningProtocol } from '../mode.js';
import { announcements, ownedKey, type AnnouncedService } from './ownership/announced.js';
import { L2StatusWriter } from './status.js';
import { UnplacedIPs } from './ownership/unplaced.js';
import { memberlistKey, memberlistSecretKey, memberlistSecretName } from './membership/memberlist-key.js';
import { Layer2Metrics } from './metrics.js';
import { RingOwnership, type Answerable } from './ownership/ring-ownership.js';

const flags: readonly FlagSpec[] = [
  {
    name: 'memberlist-port',
    env: 'METALLB_ML_BIND_PORT',
    default: '7946',
    kind: 'port',
    help: 'UDP port of the speakers’ membership datagrams (the same on every node).',
  },
  {
    name: 'ignore-interfaces',
    env: 'BEACON_L2_IGNORE_INTERFACES',
    help:
      'Comma-separated regular expressions of interface names never used for ARP/NDP, added to ' +
      'MetalLB’s defaults (docker.*, veth.*, kube-ipvs.*, lo, ...).',
  },
];

/** A conflict on one IP is reported at most this often (a duplicate answers every request). */
const conflictReportMs = 30_000;

export const layer2: Protocol = {
  name: 'layer2',
  flags,
  start: (ctx) => startLayer2(ctx),
};

function excludedInterfaces(value: string | undefined): RegExp[] {
  const extra = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return new RegExp(s);
      } catch (err) {
        throw new Error(
          `--ignore-interfaces: ${JSON.stringify(s)} is not a regular expression: ${(err as Error).message}`,
          { cause: err },
        );
      }
    });
  return [...DEFAULT_EXCLUDED_INTERFACES, ...extra];
}

/** Membership peers: every Node's first InternalIP (IPv4 first, as objects.ts sorts them). */
function peersOf(cluster: ClusterSnapshot): Peer[] {
  const peers: Peer[] = [];
  for (const n of cluster.nodes) {
    const ip = n.internalIPs[0];
    if (ip !== undefined) peers.push({ name: n.name, address: formatIP(ip) });
  }
  return peers;
}

async function startLayer2(ctx: ProtocolContext): Promise<RunningProtocol> {
  const { log, node: self } = ctx;
  const port = Number(ctx.flags['memberlist-port'] ?? '7946');
  const exclude = excludedInterfaces(ctx.flags['ignore-interfaces']);
  const metrics = new Layer2Metrics(ctx.registry);
  const now = (): number => performance.now();
  /** CLOCK_MONOTONIC ms, the membership worker's clock. */
  const monotonic = (): number => Number(process.hrtime.bigint()) / 1e6;

  let plan: L2Plan = { ips: [], notAnnounced: new Map() };
  let loop: RingOwnership | undefined;
  let stopped = false;

  // --- Data plane -------------------------------------------------------------------------
  /** IP → when its previous owner was lost (monotonic ms), until our first gratuitous frame. */
  const pendingFailover = new Map<string, number>();
  /** IPs this node answers for since their first placement (for the announcing-since gauge). */
  const answering = new Set<string>();
  let responderFailed = false;
  /** What the responder was last told to own; IP|interfaces said to be unanswerable here. */
  let ownedNow: readonly OwnedIp[] = [];
  const unplaced = new UnplacedIPs();
  const responder: Responder = new Responder({
    exclude,
    onPlacementGained: (ip, interfaces) => {
      announcer.takeOver(ip);
      const lostAt = pendingFailover.get(ip);
      pendingFailover.delete(ip);
      const failoverMs = lostAt === undefined ? undefined : now() - lostAt;
      if (failoverMs !== undefined) metrics.failoverSeconds.observe(failoverMs / 1000);
      // Wall clock: the dashboard shows it as a date. A further interface keeps the first time.
      if (!answering.has(ip)) metrics.announcingSince.set({ ip, node: self }, Date.now() / 1000);
      answering.add(ip);
      log.info('announcing', {
        ip,
        interfaces,
        ...(failoverMs !== undefined ? { failoverMs: Math.round(failoverMs * 10) / 10 } : {}),
      });
    },
    onConflict: (ip, mac, iface) => reportConflict(ip, mac, iface),
    onLog: (e) => {
      if (e.msg === 'opening packet socket failed') {
        responderFailed = true;
        updateHealth();
      }
      log.warn(e.msg, { ...(e.ip ? { ip: e.ip } : {}), interface: e.interface, error: e.error });
    },
  });
  const announcer = new Announcer({
    transmit: (ip) => responder.sendOnInterfaces(ip, (mac) => gratuitousFrames(ip, mac)),
  });
  metrics.readFramesFrom(() => ({
    requestsReceived: responder.counters.requestsReceived,
    responsesSent: responder.counters.responsesSent,
    gratuitousSent: announcer.gratuitousSent,
    conflicts: responder.counters.conflictsByIp,
    dropped: responder.counters.dropped,
    conflictsSuppressed: responder.counters.conflictsSuppressed,
    malformed: responder.counters.malformedByReason,
  }));

  // --- Health -----------------------------------------------------------------------------
  let interfaces: InterfaceSnapshot = { links: [], addresses: [] };
  let rawSocketOk = false;
  /** Can this process open a packet socket at all (CAP_NET_RAW)? Checked on interface changes. */
  const probeRawSocket = (): void => {
    const first = eligibleInterfaces(interfaces, { exclude })[0];
    if (first === undefined) return;
    try {
      PacketSocket.open({
        interface: first.index,
        etherType: ETH_P_ARP,
        onFrame: () => undefined,
        onError: () => undefined,
      }).close();
      if (!rawSocketOk) log.info('packet sockets work', { interface: first.name });
      rawSocketOk = true;
      responderFailed = false;
    } catch (err) {
      if (rawSocketOk || !responderFailed)
        log.error('cannot open a packet socket: layer 2 needs CAP_NET_RAW', {
          interface: first.name,
          error: (err as Error).message,
        });
      rawSocketOk = false;
    }
  };
  const health = () => {
    const up = new Set(eligibleInterfaces(interfaces, { exclude }).map((i) => i.index));
    const linkUp = interfaces.links.some((l) => up.has(l.index) && l.running);
    return { linkUp, responderOk: rawSocketOk && !responderFailed };
  };
  let lastHealth = '';
  function updateHealth(): void {
    const h = health();
    metrics.responderUp.set(h.responderOk ? 1 : 0);
    const text = JSON.stringify(h);
    if (text !== lastHealth) {
      lastHealth = text;
      log.info('local data-plane health', h);
    }
    loop?.setHealth(h);
  }
  const strictArp = new StrictArpCheck((message) => log.warn(message));
  const watcher = await InterfaceWatcher.start({
    onChange: (snapshot) => {
      interfaces = snapshot;
      strictArp.check(snapshot.links.map((l) => l.name));
      probeRawSocket();
      responder.setInterfaces(snapshot);
      checkPlacement();
      updateHealth();
    },
    onError: (err) => log.warn('interface scan failed', { error: err.message }),
  });

  // --- Kubernetes side: status objects, Events, announced gauge ----------------------------
  const status = new L2StatusWriter({
    node: self,
    namespace: ctx.namespace,
    api: ctx.kube,
    log,
    ...(ctx.owner !== undefined ? { owner: ctx.owner } : {}),
    isGone: (n) => loop?.lostAt(n) !== undefined && loop.state(n) !== 'alive',
  });
  let announced: ReadonlyMap<string, AnnouncedService> = new Map();
  let lastOwned = '';

  const serviceTarget = (key: string) => {
    const obj = ctx.cluster.current()?.serviceObjects.get(key);
    const i = key.indexOf('/');
    return {
      apiVersion: 'v1',
      kind: 'Service',
      namespace: key.slice(0, i),
      name: key.slice(i + 1),
      ...(obj?.metadata?.uid ? { uid: obj.metadata.uid } : {}),
    };
  };

  const conflictReported = new Map<string, number>();
  function reportConflict(ip: string, mac: string, iface: string): void {
    // Per IP whatever the MAC: the MAC is whatever the sender chose (the responder already
    // reports each IP at most once per its interval; this keeps Events rarer still).
    const id = ip;
    const last = conflictReported.get(id);
    const t = now();
    if (last !== undefined && t - last < conflictReportMs) return;
    conflictReported.set(id, t);
    log.warn('another station answers for an IP this node owns', { ip, mac, interface: iface });
    const services = plan.ips.find((p) => p.ip === ip)?.services ?? [];
    for (const key of services)
      ctx.events.record(
        serviceTarget(key),
        'Warning',
        'ipConflict',
        `${ip} is answered by another station too (MAC ${mac} on ${iface} of node ${JSON.stringify(self)}): ` +
          'two hosts answer ARP/NDP for it; check for a static address or another load balancer',
      );
  }

  // MetalLB's `announceFailed` (decided in unplaced.ts), as a Warning Event on its Services.
  function checkPlacement(): void {
    const fresh = unplaced.update(ownedNow, responder.placement());
    if (fresh.length === 0) return;
    const servicesOf = new Map(plan.ips.map((p) => [p.ip, p.services]));
    for (const u of fresh) {
      log.warn('owned IP not announced: no interface', { ip: u.ip, interfaces: u.interfaces });
      for (const key of servicesOf.get(u.ip) ?? [])
        ctx.events.record(
          serviceTarget(key),
          'Warning',
          'announceFailed',
          `${u.ip} is not announced from node ${JSON.stringify(self)}: ${u.reason}`,
        );
    }
  }

  function onAnswerable(answerable: Answerable): void {
    if (stopped) return;
    const ann = announcements(plan, answerable.ips, self);
    const key = ownedKey(ann.owned);
    if (key !== lastOwned) {
      const before = new Set(ownedNow.map((o) => o.ip));
      const after = new Set(ann.owned.map((o) => o.ip));
      for (const o of ann.owned) {
        if (before.has(o.ip)) continue;
        const prev = answerable.previousOwners.get(o.ip);
        const lostAt = prev !== undefined && prev !== self ? loop?.lostAt(prev) : undefined;
        if (lostAt !== undefined) pendingFailover.set(o.ip, lostAt);
      }
      for (const ip of before) {
        if (after.has(ip)) continue;
        announcer.release(ip);
        metrics.announcingSince.remove({ ip, node: self });
        answering.delete(ip);
        log.info('no longer announcing', { ip });
      }
      lastOwned = key;
      responder.setOwned(ann.owned);
      ownedNow = ann.owned;
      checkPlacement();
      for (const ip of pendingFailover.keys()) if (!after.has(ip)) pendingFailover.delete(ip);
    }
    updateServices(ann.services);
  }

  function updateServices(next: ReadonlyMap<string, AnnouncedService>): void {
    let changed = next.size !== announced.size;
    for (const [key, svc] of next) {
      const prev = announced.get(key);
      if (
        prev !== undefined &&
        prev.ips.join() === svc.ips.join() &&
        prev.interfaces.join() === svc.interfaces.join()
      )
        continue;
      changed = true;
      if (prev === undefined)
        ctx.events.record(
          serviceTarget(key),
          'Normal',
          'nodeAssigned',
          `announcing from node ${JSON.stringify(self)} with protocol "layer2"`,
        );
      for (const ip of prev?.ips ?? [])
        metrics.announced.remove({ protocol: 'layer2', service: key, node: self, ip });
      for (const ip of svc.ips)
        metrics.announced.set({ protocol: 'layer2', service: key, node: self, ip }, 1);
    }
    for (const [key, prev] of announced) {
      if (next.has(key)) continue;
      changed = true;
      for (const ip of prev.ips)
        metrics.announced.remove({ protocol: 'layer2', service: key, node: self, ip });
    }
    announced = next;
    if (changed) status.set(next);
  }

  // --- Plan: configuration × cluster view ---------------------------------------------------
  const replan = (): void => {
    const config: Config | undefined = ctx.config.current();
    const cluster = ctx.cluster.current();
    if (config === undefined || cluster === undefined) return;
    plan = planL2(config, cluster);
    if (loop !== undefined) {
      loop.setPeers(peersOf(cluster));
      loop.setPlan(plan);
    }
  };

  // --- The key, then membership -------------------------------------------------------------
  let keyProblem: string | undefined;
  const onKey = (): void => {
    if (stopped) return;
    const k = memberlistKey(ctx.config.objects('secrets'), ctx.namespace);
    if (!k.ok) {
      metrics.keyMissing.set(1);
      if (keyProblem !== k.reason) {
        keyProblem = k.reason;
        log.warn('layer 2 waits for the membership key: announcing nothing until it is there', {
          secret: `${ctx.namespace}/${memberlistSecretName}`,
          key: memberlistSecretKey,
          reason: k.reason,
        });
      }
      // A key that disappears while running is kept: dropping it would stop every announcement.
      return;
    }
    metrics.keyMissing.set(0);
    if (keyProblem !== undefined)
      log.info('membership key found', { secret: `${ctx.namespace}/${memberlistSecretName}` });
    keyProblem = undefined;
    if (loop !== undefined) {
      loop.setKey(k.key);
      return;
    }
    // The worker owns the membership socket; the lease reaches the responder through a
    // shared deadline cell when the responder has that fence (else main-thread fencing only).
    const fenced = responder as Responder & { setAnswerDeadlineCell?: (cell: SharedArrayBuffer) => void };
    const deadlineCell = new SharedArrayBuffer(8);
    new Float64Array(deadlineCell)[0] = Number.NaN;
    fenced.setAnswerDeadlineCell?.(deadlineCell);
    loop = new RingOwnership({
      self,
      port,
      key: k.key,
      log,
      now: monotonic,
      onAnswerable,
      deadlineCell,
      onCounters: (c) => {
        metrics.membershipDrops(c.dropped);
        metrics.membershipRejoins(c.rejoins);
      },
      onUnowned: (ip, seconds) => metrics.unownedSeconds.inc({ ip }, seconds),
    });
    log.info('membership started', { port });
    loop.setHealth(health());
    replan();
  };

  const offConfig = ctx.config.onChange(() => {
    onKey();
    replan();
  });
  const offCluster = ctx.cluster.onChange(() => replan());
  replan();
  onKey();

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      offConfig();
      offCluster();
      // Stop answering, then tell the peers (they take over at once); the native fence stops
      // the responder's thread first too (the lease deadline goes to −∞ before `left` is sent).
      const left = loop?.leave();
      announcer.stop();
      responder.close();
      watcher.close();
      await left;
      for (const [key, svc] of announced)
        for (const ip of svc.ips)
          metrics.announced.remove({ protocol: 'layer2', service: key, node: self, ip });
      for (const o of ownedNow) metrics.announcingSince.remove({ ip: o.ip, node: self });
      log.info('layer 2 stopped: left membership, stopped answering', { announced: announced.size });
      await status.clear();
    },
  };
}
