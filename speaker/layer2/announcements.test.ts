// The layer 2 mode driven through its edges: a real Responder over fake packet sockets, a
// fake membership (the test decides what this node may answer and when the lease holds), fake
// status and Event writers, the real metrics on a private registry, and clocks the test moves.

import { Registry } from 'prom-client';
import type { Config, L2Advertisement } from '../../lib/config/types.js';
import { parseIP } from '../../lib/ip/index.js';
import type { EventTarget, EventType } from '../../lib/kube/events.js';
import type { KubeObject } from '../../lib/kube/transport.js';
import { testPool } from '../../test/support/pools.js';
import { recordingLogger, type LogLine } from '../../test/support/recording-log.js';
import type { ClusterSnapshot } from '../cluster/view.js';
import { ETH_P_ARP, type PacketSocketOptions } from '../native/index.js';
import {
  Layer2Announcements,
  replanPause,
  type MembershipStart,
  type OwnershipEdge,
  type StatusEdge,
} from './announcements.js';
import type { LocalHealth, MemberState, Peer } from './membership/types.js';
import { Layer2Metrics } from './metrics.js';
import type { AnnouncedService } from './ownership/announced.js';
import type { L2Plan } from './plan/index.js';
import { gratuitousFrames, type Clock } from './responder/announcer.js';
import type { InterfaceSnapshot } from './responder/interfaces.js';
import { type FrameSocket, Responder } from './responder/responder.js';
import { encodeArp } from './wire/arp.js';
import { encodeEthernet, ETHERTYPE_ARP } from './wire/ethernet.js';
import { decodeFrame } from './wire/frame.js';

const SELF = 'n1';
const OUR_MAC = '02:77:00:00:00:0b';
const CLIENT_MAC = '02:77:00:00:00:64';
const OTHER_MAC = '02:77:00:00:00:0c';
const VIP = '192.168.10.222';
const NS = 'metallb-system';

const eth0 = (running = true): InterfaceSnapshot => ({
  links: [{ index: 2, name: 'eth0', up: true, running, broadcast: true, noarp: false, mac: OUR_MAC }],
  addresses: [{ index: 2, family: 4, address: '192.168.10.11', prefixLength: 24 }],
});

class FakeSocket implements FrameSocket {
  readonly hardwareAddress = OUR_MAC;
  sent: Buffer[] = [];
  closed = false;
  constructor(readonly options: PacketSocketOptions) {}
  send(frame: Buffer): number {
    this.sent.push(frame);
    return frame.length;
  }
  addMembership(): void {}
  close(): void {
    this.closed = true;
  }
  receive(frame: Buffer): void {
    this.options.onFrame(frame, 0);
  }
}

class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.next;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

/** Membership as the mode sees it: the test says what this node may answer. */
class FakeOwnership implements OwnershipEdge {
  health: LocalHealth[] = [];
  plans: L2Plan[] = [];
  peers: (readonly Peer[])[] = [];
  keys: Buffer[] = [];
  readonly lost = new Map<string, number>();
  readonly states = new Map<string, MemberState>();
  /** Set by leave(): what happened when the `left` message went out. */
  onLeft: (() => void) | undefined;
  leaving = false;
  /** The restart hold leave() was given. */
  holdMs: number | undefined;
  constructor(readonly start: MembershipStart) {}
  setKey(key: Buffer): void {
    this.keys.push(key);
  }
  setPlan(plan: L2Plan): void {
    this.plans.push(plan);
  }
  setPeers(peers: readonly Peer[]): void {
    this.peers.push(peers);
  }
  setHealth(health: LocalHealth): void {
    this.health.push(health);
  }
  lostAt(node: string): number | undefined {
    return this.lost.get(node);
  }
  state(node: string): MemberState | undefined {
    return this.states.get(node);
  }
  /**
   * `left` goes out asynchronously, as the worker sends it. (The real lease also fences the
   * responder first; this one does not, so the test sees what the mode itself stops.)
   */
  async leave(holdMs = 0): Promise<void> {
    this.leaving = true;
    this.holdMs = holdMs;
    await new Promise((r) => setImmediate(r));
    this.onLeft?.();
  }
  /** The lease holds from now on (the worker writes the deadline cell). */
  grant(): void {
    new Float64Array(this.start.deadlineCell)[0] = Number.POSITIVE_INFINITY;
  }
  answer(ips: string[], previousOwners: Record<string, string> = {}): void {
    this.start.onAnswerable({ ips: new Set(ips), previousOwners: new Map(Object.entries(previousOwners)) });
  }
}

function ad(name: string): L2Advertisement {
  return {
    ref: { kind: 'L2Advertisement', namespace: NS, name },
    pools: ['lan'],
    nodeSelectors: [],
    interfaces: [],
    serviceSelectors: [],
    preferredNodeSelectors: [],
  };
}

const config: Config = {
  pools: new Map([['lan', testPool('lan', ['192.168.10.0/24'])]]),
  l2Advertisements: [ad('all')],
  bgpAdvertisements: [],
  peers: new Map(),
  bfdProfiles: new Map(),
  problems: [],
};

function cluster(): ClusterSnapshot {
  const web = { key: 'ns/web', ips: [parseIP(VIP)], labels: {}, externalTrafficPolicy: 'Cluster' as const };
  const node = (name: string, ip: string) => ({
    name,
    labels: {},
    networkUnavailable: false,
    internalIPs: [parseIP(ip)],
  });
  return {
    services: [web],
    nodes: [node('n1', '192.168.10.11'), node('n2', '192.168.10.12')],
    servingNodes: new Map([['ns/web', new Set(['n1', 'n2'])]]),
    serviceByKey: new Map([['ns/web', web]]),
    serviceObjects: new Map([['ns/web', { metadata: { namespace: 'ns', name: 'web', uid: 'uid-web' } }]]),
  };
}

const memberlistSecret: KubeObject = {
  metadata: { name: 'memberlist', namespace: NS },
  data: { secretkey: Buffer.alloc(32, 7).toString('base64') },
} as KubeObject;

interface Recorded {
  target: EventTarget;
  type: EventType;
  reason: string;
  message: string;
}

function arpRequest(targetIp: string): Buffer {
  const body = encodeArp({
    operation: 'request',
    senderMac: CLIENT_MAC,
    senderIp: '192.168.10.100',
    targetMac: '00:00:00:00:00:00',
    targetIp,
  });
  return encodeEthernet(
    { destination: 'ff:ff:ff:ff:ff:ff', source: CLIENT_MAC, etherType: ETHERTYPE_ARP },
    body,
  );
}

function setup(
  opts: {
    secrets?: KubeObject[];
    probe?: () => void;
    openFails?: () => boolean;
    restartHold?: () => Promise<number>;
    /** How long reading the cluster view (planning) takes on the mode's clock. */
    planCostMs?: number;
  } = {},
) {
  const lines: LogLine[] = [];
  const events: Recorded[] = [];
  const statusSets: { services: string[]; answeredThen: boolean }[] = [];
  let cleared = 0;
  const sockets: FakeSocket[] = [];
  const memberships: FakeOwnership[] = [];
  const clock = new FakeClock();
  const registry = new Registry();
  let now = 1000;
  let secrets = opts.secrets ?? [memberlistSecret];
  let snapshotListener: ((s: InterfaceSnapshot) => void) | undefined;
  let watcherClosed = false;
  let recordEvent = (e: Recorded): void => void events.push(e);

  const arp = (): FakeSocket | undefined =>
    sockets.find((s) => !s.closed && s.options.etherType === ETH_P_ARP);
  /** Whether an ARP request for `ip` gets a reply now. */
  const answers = (ip: string): boolean => {
    const s = arp();
    if (s === undefined) return false;
    const before = s.sent.length;
    s.receive(arpRequest(ip));
    const reply = s.sent.slice(before).map((f) => decodeFrame(f));
    s.sent.splice(before);
    return reply.some((d) => d.ok && d.value.protocol === 'arp' && d.value.operation === 'reply');
  };
  const status: StatusEdge = {
    set: (services: ReadonlyMap<string, AnnouncedService>) =>
      void statusSets.push({ services: [...services.keys()], answeredThen: answers(VIP) }),
    clear: () => {
      cleared++;
      return Promise.resolve();
    },
  };
  const metrics = new Layer2Metrics(registry);
  const mode = new Layer2Announcements({
    self: SELF,
    namespace: NS,
    exclude: [],
    log: recordingLogger(lines),
    metrics,
    sources: {
      config: () => config,
      cluster: () => {
        clock.t += opts.planCostMs ?? 0;
        return cluster();
      },
      secrets: () => secrets,
    },
    events: { record: (target, type, reason, message) => recordEvent({ target, type, reason, message }) },
    status,
    openResponder: (handlers) =>
      new Responder({
        ...handlers,
        exclude: [],
        // Every duplicate reaches the mode: its own report interval is what is tested here.
        conflictIntervalMs: 0,
        openSocket: (o) => {
          if (opts.openFails?.()) throw new Error('EPERM');
          const s = new FakeSocket(o);
          sockets.push(s);
          return s;
        },
      }),
    probeSocket: () => opts.probe?.(),
    ...(opts.restartHold !== undefined ? { restartHold: opts.restartHold } : {}),
    watchInterfaces: (onChange) => {
      snapshotListener = onChange;
      onChange(eth0());
      return Promise.resolve({ close: () => void (watcherClosed = true) });
    },
    startMembership: (start) => {
      const m = new FakeOwnership(start);
      memberships.push(m);
      return m;
    },
    now: () => now,
    wallClock: () => 1_700_000_000_000,
    clock,
    arpIgnoreAll: () => 1,
  });
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = (m?.values ?? []).find((x) =>
      Object.entries(labels).every(([k, want]) => (x.labels as Record<string, unknown>)[k] === want),
    );
    return v?.value;
  };
  const histogram = async (name: string): Promise<{ count: number; sum: number }> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const pick = (suffix: string): number =>
      (m?.values ?? []).find((x) => (x as { metricName?: string }).metricName === name + suffix)?.value ?? 0;
    return { count: pick('_count'), sum: pick('_sum') };
  };
  return {
    mode,
    histogram,
    lines,
    events,
    statusSets,
    sockets,
    memberships,
    clock,
    metric,
    answers,
    arp,
    cleared: () => cleared,
    watcherClosed: () => watcherClosed,
    membership: (): FakeOwnership => {
      const m = memberships[0];
      if (m === undefined) throw new Error('membership was not started');
      return m;
    },
    interfaces: (s: InterfaceSnapshot) => snapshotListener?.(s),
    setSecrets: (s: KubeObject[]) => void (secrets = s),
    setNow: (t: number) => void (now = t),
    failEvents: (fail: (e: Recorded) => boolean) => {
      recordEvent = (e) => {
        if (fail(e)) throw new Error(`cannot record ${e.reason}`);
        events.push(e);
      };
    },
  };
}

/** The gratuitous ARP frames (request and reply, RFC 5227 §3) sent for `ip`. */
function gratuitousOf(socket: FakeSocket | undefined, ip: string): string[] {
  return (socket?.sent ?? [])
    .map((f) => decodeFrame(f))
    .filter((d) => d.ok && d.value.protocol === 'arp' && d.value.senderIp === ip && d.value.targetIp === ip)
    .map((d) => (d.ok && d.value.protocol === 'arp' ? `${d.value.operation} from ${d.value.senderMac}` : ''));
}

describe('Layer2Announcements: taking an IP over', () => {
  it('answers and announces a gained IP once, with a gratuitous ARP request and reply', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP]);
    expect(t.answers(VIP)).toBe(true);
    expect(gratuitousOf(t.arp(), VIP)).toEqual([`request from ${OUR_MAC}`, `reply from ${OUR_MAC}`]);
    // The same answerable set again is no new takeover.
    m.answer([VIP]);
    expect(gratuitousOf(t.arp(), VIP)).toHaveLength(2);
    // The takeover's repeats (0, 0.5, 1.1, 2.2, 3.3, 4.4 s), then nothing more.
    t.clock.advance(10_000);
    expect(gratuitousOf(t.arp(), VIP)).toHaveLength(12);
    expect(t.lines.filter((l) => l.msg === 'announcing').map((l) => l.fields)).toEqual([
      { ip: VIP, interfaces: ['eth0'] },
    ]);
    expect(t.events.map((e) => [e.reason, e.target.name, e.target.uid, e.message])).toEqual([
      ['nodeAssigned', 'web', 'uid-web', 'announcing from node "n1" with protocol "layer2"'],
    ]);
    expect(t.statusSets.map((s) => s.services)).toEqual([['ns/web']]);
    expect(await t.metric('metallb_speaker_announced', { service: 'ns/web', ip: VIP })).toBe(1);
    expect(await t.metric('beacon_layer2_announcing_since_timestamp_seconds', { ip: VIP })).toBe(
      1_700_000_000,
    );
    expect(await t.metric('metallb_layer2_gratuitous_sent', { ip: VIP })).toBe(12);
  });

  it('times a takeover from the moment membership lost the previous owner to the first gratuitous frame', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.lost.set('n2', 1000);
    t.setNow(1250);
    m.answer([VIP], { [VIP]: 'n2' });
    expect(t.lines.find((l) => l.msg === 'announcing')?.fields).toEqual({
      ip: VIP,
      interfaces: ['eth0'],
      failoverMs: 250,
    });
    expect(await t.histogram('beacon_layer2_failover_seconds')).toEqual({ count: 1, sum: 0.25 });
  });

  it('does not time a takeover whose previous owner membership never lost (a plan change)', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP], { [VIP]: 'n2' });
    expect(t.lines.find((l) => l.msg === 'announcing')?.fields).toEqual({ ip: VIP, interfaces: ['eth0'] });
    expect(await t.histogram('beacon_layer2_failover_seconds')).toEqual({ count: 0, sum: 0 });
  });

  it('stops answering a lost IP before its ServiceL2Status is withdrawn, and stops announcing it', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP]);
    const framesAtLoss = gratuitousOf(t.arp(), VIP).length;
    const socket = t.arp();
    m.answer([]);
    expect(t.statusSets).toEqual([
      { services: ['ns/web'], answeredThen: true },
      { services: [], answeredThen: false },
    ]);
    expect(t.answers(VIP)).toBe(false);
    // The takeover's remaining repeats are cancelled.
    t.clock.advance(10_000);
    expect(gratuitousOf(socket, VIP)).toHaveLength(framesAtLoss);
    expect(t.lines.filter((l) => l.msg === 'no longer announcing').map((l) => l.fields)).toEqual([
      { ip: VIP },
    ]);
    expect(await t.metric('metallb_speaker_announced', { service: 'ns/web' })).toBeUndefined();
    expect(await t.metric('beacon_layer2_announcing_since_timestamp_seconds', { ip: VIP })).toBeUndefined();
  });
});

describe('Layer2Announcements: an owned IP it cannot answer for', () => {
  it('says so once, as announceFailed on its Service, and answers once an interface is back', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    t.interfaces({ links: [], addresses: [] });
    m.answer([VIP]);
    t.interfaces({ links: [], addresses: [] });
    m.answer([VIP]);
    expect(
      t.events.filter((e) => e.reason === 'announceFailed').map((e) => [e.type, e.target.name, e.message]),
    ).toEqual([
      [
        'Warning',
        'web',
        `${VIP} is not announced from node "n1": no interface here is usable for it (up, not excluded, on its subnet or ARP/NDP capable)`,
      ],
    ]);
    expect(t.answers(VIP)).toBe(false);
    t.interfaces(eth0());
    expect(t.answers(VIP)).toBe(true);
    expect(gratuitousOf(t.arp(), VIP)).toHaveLength(2);
  });
});

describe('Layer2Announcements: the membership key', () => {
  it('without the memberlist key starts no membership, announces nothing and says why, once', async () => {
    const t = setup({ secrets: [] });
    await t.mode.start();
    t.mode.configChanged();
    expect(t.memberships).toHaveLength(0);
    expect(t.arp()).toBeUndefined();
    expect(t.statusSets).toEqual([]);
    expect(await t.metric('beacon_layer2_memberlist_key_missing')).toBe(1);
    const waits = t.lines.filter((l) => l.msg.startsWith('layer 2 waits for the membership key'));
    expect(waits).toHaveLength(1);
    expect(waits[0]?.fields).toMatchObject({
      secret: `${NS}/memberlist`,
      key: 'secretkey',
      reason: expect.stringContaining('does not exist') as unknown,
    });
  });

  it('starts membership with the plan and the peers once the key appears', async () => {
    const t = setup({ secrets: [] });
    await t.mode.start();
    t.setSecrets([memberlistSecret]);
    t.mode.configChanged();
    const m = t.membership();
    expect(m.start.key).toEqual(Buffer.alloc(32, 7));
    expect(m.plans.at(-1)?.ips.map((p) => p.ip)).toEqual([VIP]);
    expect(m.peers.at(-1)).toEqual([
      { name: 'n1', address: '192.168.10.11' },
      { name: 'n2', address: '192.168.10.12' },
    ]);
    expect(m.health).toEqual([{ linkUp: true, responderOk: true }]);
    expect(await t.metric('beacon_layer2_memberlist_key_missing')).toBe(0);
    expect(t.lines.map((l) => l.msg)).toContain('membership key found');
  });

  it('keeps the key it has when the Secret disappears, and hands a changed key to membership', async () => {
    const t = setup();
    await t.mode.start();
    t.setSecrets([]);
    t.mode.configChanged();
    expect(t.memberships).toHaveLength(1);
    expect(t.membership().keys).toEqual([]);
    const other = { ...memberlistSecret, data: { secretkey: Buffer.alloc(32, 9).toString('base64') } };
    t.setSecrets([other as KubeObject]);
    t.mode.configChanged();
    expect(t.memberships).toHaveLength(1);
    expect(t.membership().keys).toEqual([Buffer.alloc(32, 9)]);
  });
});

describe('Layer2Announcements: local health', () => {
  it('a packet socket that cannot be opened turns responderOk off in the health peers get', async () => {
    let fail = false;
    const t = setup({
      probe: () => {
        if (fail) throw new Error('Operation not permitted');
      },
    });
    await t.mode.start();
    const m = t.membership();
    fail = true;
    t.interfaces(eth0(true));
    expect(m.health.at(-1)).toEqual({ linkUp: true, responderOk: false });
    expect(await t.metric('beacon_layer2_responder_up')).toBe(0);
    expect(t.lines.find((l) => l.level === 'error')?.msg).toBe(
      'cannot open a packet socket: layer 2 needs CAP_NET_RAW',
    );
    fail = false;
    t.interfaces(eth0(true));
    expect(m.health.at(-1)).toEqual({ linkUp: true, responderOk: true });
    expect(await t.metric('beacon_layer2_responder_up')).toBe(1);
  });

  it('a socket the responder fails to open turns responderOk off until a probe opens one again', async () => {
    let openFails = false;
    const t = setup({ openFails: () => openFails });
    await t.mode.start();
    const m = t.membership();
    m.grant();
    openFails = true;
    m.answer([VIP]);
    expect(m.health.at(-1)).toEqual({ linkUp: true, responderOk: false });
    expect(t.lines.filter((l) => l.msg === 'local data-plane health').map((l) => l.fields)).toEqual([
      { linkUp: true, responderOk: true },
      { linkUp: true, responderOk: false },
    ]);
    openFails = false;
    t.interfaces(eth0(true));
    expect(m.health.at(-1)).toEqual({ linkUp: true, responderOk: true });
  });

  it('an eligible interface without carrier turns linkUp off', async () => {
    const t = setup();
    await t.mode.start();
    t.interfaces(eth0(false));
    expect(t.membership().health.at(-1)).toEqual({ linkUp: false, responderOk: true });
  });
});

describe('Layer2Announcements: stop()', () => {
  it('stops answering before the peers hear that this node left, then withdraws its status', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP]);
    let atLeft: { answered: boolean; cleared: number } | undefined;
    m.onLeft = () => (atLeft = { answered: t.answers(VIP), cleared: t.cleared() });
    await t.mode.stop();
    expect(m.leaving).toBe(true);
    expect(atLeft).toEqual({ answered: false, cleared: 0 });
    expect(t.sockets.every((s) => s.closed)).toBe(true);
    expect(t.watcherClosed()).toBe(true);
    expect(t.cleared()).toBe(1);
    expect(await t.metric('metallb_speaker_announced', { service: 'ns/web' })).toBeUndefined();
    expect(t.lines.at(-1)).toMatchObject({
      msg: 'layer 2 stopped: left membership, stopped answering',
      fields: { announced: 1 },
    });
    // Nothing later brings answers back.
    m.answer([VIP]);
    expect(t.answers(VIP)).toBe(false);
    await t.mode.stop();
    expect(t.cleared()).toBe(1);
    expect(m.holdMs).toBe(0);
  });

  it('a rolling restart: decided while still answering, then the peers are told to hold its IPs', async () => {
    let answeredWhileDeciding: boolean | undefined;
    const t = setup({
      restartHold: () => {
        answeredWhileDeciding = t.answers(VIP);
        return Promise.resolve(10_000);
      },
    });
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP]);
    let answeredAtLeft: boolean | undefined;
    m.onLeft = () => (answeredAtLeft = t.answers(VIP));
    await t.mode.stop();
    expect(answeredWhileDeciding).toBe(true);
    expect(m.holdMs).toBe(10_000);
    expect(answeredAtLeft).toBe(false);
    expect(t.lines.at(-1)).toMatchObject({ fields: { announced: 1, restartHoldMs: 10_000 } });
  });

  it('a restart hold that fails is a plain handover', async () => {
    const t = setup({ restartHold: () => Promise.reject(new Error('boom')) });
    await t.mode.start();
    const m = t.membership();
    m.grant();
    await t.mode.stop();
    expect(m.holdMs).toBe(0);
    expect(
      t.lines.some((l) => l.level === 'warn' && l.msg === 'layer 2: restart hold failed; handing over'),
    ).toBe(true);
  });
});

describe('Layer2Announcements: duplicate responders and failing handlers', () => {
  it('reports another station answering for an owned IP once per interval, as a log line and an Event', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP]);
    const conflict = (): void => {
      for (const f of gratuitousFrames(VIP, OTHER_MAC)) t.arp()?.receive(f);
    };
    conflict();
    t.setNow(1000 + 29_000);
    conflict();
    const message =
      `${VIP} is answered by another station too (MAC ${OTHER_MAC} on eth0 of node "n1"): ` +
      'two hosts answer ARP/NDP for it; check for a static address or another load balancer';
    const reported = () =>
      t.events.filter((e) => e.reason === 'ipConflict').map((e) => [e.type, e.target.name, e.message]);
    expect(reported()).toEqual([['Warning', 'web', message]]);
    expect(t.lines.filter((l) => l.msg === 'another station answers for an IP this node owns')).toHaveLength(
      1,
    );
    t.setNow(1000 + 30_000);
    conflict();
    expect(reported()).toEqual([
      ['Warning', 'web', message],
      ['Warning', 'web', message],
    ]);
  });

  it('a handler that throws is logged and counted, and the node keeps answering and following ownership', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    m.answer([VIP]);
    t.failEvents((e) => e.reason === 'ipConflict');
    expect(() => {
      for (const f of gratuitousFrames(VIP, OTHER_MAC)) t.arp()?.receive(f);
    }).not.toThrow();
    expect(await t.metric('beacon_layer2_handler_errors_total', { handler: 'conflict' })).toBe(1);
    expect(t.lines.filter((l) => l.level === 'error')).toEqual([
      {
        level: 'error',
        msg: 'layer 2 handler failed',
        fields: { handler: 'conflict', error: expect.any(Error) as unknown },
      },
    ]);
    expect(t.answers(VIP)).toBe(true);
    m.answer([]);
    expect(t.statusSets.at(-1)).toEqual({ services: [], answeredThen: false });
  });

  it('a failing membership report does not stop the ones after it', async () => {
    const t = setup();
    await t.mode.start();
    const m = t.membership();
    m.grant();
    t.failEvents((e) => e.reason === 'nodeAssigned');
    expect(() => m.answer([VIP])).not.toThrow();
    expect(await t.metric('beacon_layer2_handler_errors_total', { handler: 'answerable' })).toBe(1);
    expect(t.answers(VIP)).toBe(true);
    m.answer([]);
    expect(t.answers(VIP)).toBe(false);
    expect(t.lines.filter((l) => l.msg === 'no longer announcing')).toHaveLength(1);
  });
});

describe('Layer2Announcements: planning a burst of cluster changes', () => {
  it('plans a change after a quiet spell at once, and a burst once after a pause twenty times the last plan', async () => {
    const t = setup({ planCostMs: 10 });
    await t.mode.start();
    const m = t.membership();
    t.clock.advance(5_000);
    const before = m.plans.length;
    t.mode.clusterChanged();
    expect(m.plans).toHaveLength(before + 1);
    // The plan took 10 ms: the next waits 200 ms, and every change meanwhile is in it.
    for (let i = 0; i < 50; i++) {
      t.clock.advance(1);
      t.mode.clusterChanged();
    }
    expect(m.plans).toHaveLength(before + 1);
    t.clock.advance(200);
    expect(m.plans).toHaveLength(before + 2);
    t.clock.advance(5_000);
    expect(m.plans).toHaveLength(before + 2);
  });

  it('plans nothing more once stopped', async () => {
    const t = setup({ planCostMs: 10 });
    await t.mode.start();
    const m = t.membership();
    t.mode.clusterChanged();
    const planned = m.plans.length;
    t.mode.clusterChanged();
    await t.mode.stop();
    t.clock.advance(5_000);
    expect(m.plans).toHaveLength(planned);
  });

  it('pauses twenty times a plan’s cost, at most a second', () => {
    expect(replanPause(0)).toBe(0);
    expect(replanPause(10)).toBe(200);
    expect(replanPause(80)).toBe(1000);
  });
});
