// A discrete-event simulation of layer 2 membership and ownership at cluster scale: every node
// runs the real pure core (Member, OwnerIndex over one shared PlanTable); the network, the
// clocks, the main thread's lag and the data plane's answer deadline are simulated. Time is
// virtual, so 2,000 nodes × 10,000 IPs run in seconds and every run with a seed is the same.
//
// What it checks, at every event: for each IP, at most one node answers within any part of
// the network that can reach each other (one part, or the two sides of a partition). A node
// answers an IP when its data plane was told it owns it (after the main thread's lag) and the
// answer deadline it was given (the lease end; enforced natively, so also during a stall) is
// in the future. What it measures: failover per IP after a crash (crash → first answer by
// another node), bytes each node sends per second, the largest datagram.

import { Member, type MemberOptions } from '../../speaker/layer2/membership/member.js';
import { messageBytes, type Message } from '../../speaker/layer2/membership/messages.js';
import { mayAckJoiner } from '../../speaker/layer2/ownership/handover.js';
import { OwnerIndex } from '../../speaker/layer2/ownership/owner-index.js';
import { PlanTable } from '../../speaker/layer2/ownership/plan-table.js';
import { EventHeap } from './heap.js';
import { mulberry32 } from '../support/prng.js';

export type Action =
  | { readonly at: number; readonly kind: 'crash'; readonly node: number }
  | { readonly at: number; readonly kind: 'restart'; readonly node: number }
  | { readonly at: number; readonly kind: 'partition'; readonly side: readonly number[] }
  | { readonly at: number; readonly kind: 'heal' }
  | { readonly at: number; readonly kind: 'stall'; readonly node: number; readonly ms: number }
  | { readonly at: number; readonly kind: 'main-lag'; readonly node: number; readonly ms: number }
  | { readonly at: number; readonly kind: 'health'; readonly node: number; readonly healthy: boolean }
  /** SIGTERM; with `holdMs`, a restart (member.ts `leave`): a `restart` action should follow. */
  | { readonly at: number; readonly kind: 'leave'; readonly node: number; readonly holdMs?: number }
  | { readonly at: number; readonly kind: 'loss'; readonly rate: number };

export interface SimOptions {
  readonly nodes: number;
  readonly ips: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly lossRate?: number;
  /** One-way network delay, uniform in [min, max] ms. */
  readonly delayMs?: readonly [number, number];
  readonly actions?: readonly Action[];
  /** Start settled (every node joined, one view) instead of a cold start of every node. */
  readonly warm?: boolean;
  readonly member?: Partial<MemberOptions>;
}

export interface Violation {
  readonly at: number;
  readonly ip: string;
  readonly nodes: readonly string[];
}

export interface SimResult {
  readonly violations: readonly Violation[];
  /** Per IP that a crash took away: ms until another node answered it. */
  readonly failoversMs: readonly number[];
  /** IPs a crash took away that nobody answered by the end. */
  readonly failoversPending: number;
  readonly bytesPerNodePerSecond: number;
  readonly maxDatagramBytes: number;
  readonly messages: number;
  readonly events: number;
  /** At the end: IPs answered by exactly one node / by none / by several, and view agreement. */
  readonly final: {
    readonly one: number;
    readonly none: number;
    readonly several: number;
    readonly viewsAgree: boolean;
  };
  readonly rejoins: number;
  readonly declaredDead: number;
  /** Times an IP began to be answered by a node other than the one that answered it last. */
  readonly moves: number;
  readonly wallMs: number;
  readonly setupMs: number;
  /** For diagnostics: per doubly answered IP at the end, what each answerer believes. */
  readonly doubles: readonly string[];
}

type SimEvent =
  | { at: number; kind: 'tick'; node: number; gen: number }
  | { at: number; kind: 'deliver'; node: number; gen: number; message: Message }
  | { at: number; kind: 'fence'; node: number; gen: number }
  | { at: number; kind: 'main'; node: number; gen: number; post: Post }
  | { at: number; kind: 'resume'; node: number; gen: number }
  | { at: number; kind: 'action'; action: Action };

interface Post {
  readonly version: number;
  readonly owned: ReadonlySet<string> | undefined;
}

interface SimNode {
  readonly id: number;
  readonly name: string;
  gen: number;
  up: boolean;
  member: Member;
  index: OwnerIndex;
  stalledUntil: number;
  held: Message[];
  mainLag: number;
  /** What the data plane was told: owned IPs and the answer deadline. */
  ownedApplied: ReadonlySet<string>;
  deadline: number;
  postedDeadline: number;
  answering: Set<string>;
  tickAt: number;
  /** Owned sets posted to the main thread and not applied yet (they apply in order). */
  inFlight: ReadonlySet<string>[];
}

/** A seeded PRNG (test/support/prng.ts's mulberry32), so runs repeat. */
export function prng(seed: number): () => number {
  return mulberry32(seed);
}

export function nodeName(i: number): string {
  return `node-${String(i).padStart(4, '0')}`;
}

export function serviceIP(i: number): string {
  return `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

export function simulate(options: SimOptions): SimResult {
  const started = performance.now();
  const random = prng(options.seed);
  const [minDelay, maxDelay] = options.delayMs ?? [0.2, 2];
  let loss = options.lossRate ?? 0;
  const names = Array.from({ length: options.nodes }, (_, i) => nodeName(i));
  const idOf = new Map(names.map((n, i) => [n, i] as const));
  const table = new PlanTable(
    Array.from({ length: options.ips }, (_, i) => ({
      ip: serviceIP(i),
      eligible: names,
      weights: new Map(),
    })),
  );
  const heap = new EventHeap<SimEvent>();
  const side = new Int8Array(options.nodes);
  const answerers = new Map<string, Set<number>>();
  /** Per IP, the node that began answering it last (moves). */
  const lastAnswerer = new Map<string, number>();
  let moves = 0;
  const violations: Violation[] = [];
  const pendingFailover = new Map<string, number>();
  const failovers: number[] = [];
  let bytes = 0;
  let messages = 0;
  let maxDatagram = 0;
  let events = 0;
  let now = 0;
  let rejoinsBefore = 0;
  let declaredBefore = 0;

  const newMember = (id: number, at: number, incarnation: number): Member =>
    new Member(
      {
        self: names[id] as string,
        incarnation,
        random: prng(options.seed * 7919 + id * 31 + incarnation),
        ...options.member,
      },
      at,
    );

  const nodes: SimNode[] = names.map((name, id) => ({
    id,
    name,
    gen: 0,
    up: true,
    member: newMember(id, 0, 1),
    index: new OwnerIndex(name),
    stalledUntil: 0,
    held: [],
    mainLag: 0,
    ownedApplied: new Set(),
    deadline: Number.NEGATIVE_INFINITY,
    postedDeadline: Number.NEGATIVE_INFINITY,
    answering: new Set(),
    tickAt: Number.POSITIVE_INFINITY,
    inFlight: [],
  }));

  for (const n of nodes) {
    n.member.setPeers(names);
    n.index.setPlan(table);
  }
  if (options.warm === true) {
    // One settled view, computed once and copied: what a completed cold start leaves behind.
    const first = nodes[0] as SimNode;
    for (const name of names) first.index.setCandidate(name, true);
    const view = names.map((name) => ({ name, incarnation: 1, healthy: true }));
    for (const n of nodes) {
      if (n !== first) n.index.copyFrom(first.index);
      n.member.adoptView(view);
      n.member.drain();
      n.member.applied(n.member.version);
      n.ownedApplied = new Set(n.index.owned());
    }
  }
  for (const n of nodes) pump(n);
  const setupMs = performance.now() - started;
  for (const a of options.actions ?? []) heap.push({ at: a.at, kind: 'action', action: a });

  // --- data plane and checks ----------------------------------------------------------------
  function sameSide(a: number, b: number): boolean {
    return side[a] === side[b];
  }

  function refresh(n: SimNode): void {
    const on = n.up && now < n.deadline;
    const want = on ? n.ownedApplied : emptySet;
    for (const ip of n.answering)
      if (!want.has(ip)) {
        n.answering.delete(ip);
        answerers.get(ip)?.delete(n.id);
      }
    for (const ip of want) {
      if (n.answering.has(ip)) continue;
      n.answering.add(ip);
      let set = answerers.get(ip);
      if (set === undefined) answerers.set(ip, (set = new Set()));
      for (const other of set)
        if (sameSide(other, n.id)) {
          violations.push({ at: now, ip, nodes: [names[other] as string, n.name] });
          if (process.env.SIM_DEBUG !== undefined) {
            const o = nodes[other] as SimNode;
            process.stderr.write(
              `violation ${ip} at ${now.toFixed(1)}: new ${n.name}@${n.member.incarnation} sees ${o.name}:${n.member.status(o.name)}/${n.member.peerIncarnation(o.name)} owner=${n.index.owner(ip)}; old ${o.name}@${o.member.incarnation} sees ${n.name}:${o.member.status(n.name)}/${o.member.peerIncarnation(n.name)} owner=${o.index.owner(ip)} applied=${o.ownedApplied.has(ip)} inflight=${o.inFlight.length}\n`,
            );
          }
        }
      set.add(n.id);
      const last = lastAnswerer.get(ip);
      if (last !== undefined && last !== n.id) moves++;
      lastAnswerer.set(ip, n.id);
      const lostAt = pendingFailover.get(ip);
      if (lostAt !== undefined) {
        pendingFailover.delete(ip);
        failovers.push(now - lostAt);
        if (process.env.SIM_DEBUG !== undefined && now - lostAt > 700)
          process.stderr.write(
            `slow failover ${ip} ${(now - lostAt).toFixed(0)} ms to ${n.name} at ${now.toFixed(0)} rejoins=${n.member.counters.rejoins}\n`,
          );
      }
    }
  }

  function applyMain(n: SimNode, post: Post): void {
    if (post.owned !== undefined) n.ownedApplied = post.owned;
    n.member.applied(post.version);
    refresh(n);
  }

  /** Worker side: drain the member, update the view, post to the main thread, send, re-arm the timer. */
  function pump(n: SimNode): void {
    if (!n.up) return;
    const d = n.member.drain();
    let ownedChanged = false;
    for (const c of d.changes) {
      const moved = n.index.setCandidate(c.node, c.candidate);
      for (const m of moved) if (m.from === n.name || m.to === n.name) ownedChanged = true;
    }
    if (d.changes.length > 0) {
      if (ownedChanged) {
        const post: Post = { version: d.version, owned: new Set(n.index.owned()) };
        n.inFlight.push(post.owned as ReadonlySet<string>);
        if (n.mainLag <= 0 && now >= n.stalledUntil) {
          n.inFlight.shift();
          applyMain(n, post);
        } else
          heap.push({
            at: Math.max(now, n.stalledUntil) + n.mainLag,
            kind: 'main',
            node: n.id,
            gen: n.gen,
            post,
          });
      } else if (n.inFlight.length === 0) n.member.applied(d.version);
    }
    // Sync answers go as soon as the data plane holds nothing the joiner owns.
    const joiners = n.member.waitingJoiners();
    if (joiners.length > 0) {
      const held = [n.ownedApplied, ...n.inFlight];
      for (const j of joiners) if (mayAckJoiner(j, n.index, held)) n.member.release(j);
      const again = n.member.drain();
      d.out.push(...again.out);
    }
    // The worker writes the answer deadline into the data plane's shared cell at once (it is
    // never queued behind the main thread); ownership changes go through the main thread.
    const deadline = n.member.answerUntil();
    if (deadline !== n.postedDeadline) {
      n.postedDeadline = deadline;
      n.deadline = deadline;
      refresh(n);
      if (Number.isFinite(deadline) && deadline > now)
        heap.push({ at: deadline, kind: 'fence', node: n.id, gen: n.gen });
    }
    for (const o of d.out) send(n, o.to, o.message);
    const at = Math.max(n.member.nextDeadline(), now);
    if (at !== n.tickAt) {
      n.tickAt = at;
      heap.push({ at, kind: 'tick', node: n.id, gen: n.gen });
    }
  }

  function send(from: SimNode, to: string, message: Message): void {
    const size = messageBytes(message);
    bytes += size;
    messages++;
    if (size > maxDatagram) maxDatagram = size;
    const id = idOf.get(to);
    if (id === undefined) return;
    if (loss > 0 && random() < loss) return;
    if (!sameSide(from.id, id)) return;
    const target = nodes[id] as SimNode;
    heap.push({
      at: now + minDelay + random() * (maxDelay - minDelay),
      kind: 'deliver',
      node: id,
      gen: target.gen,
      message,
    });
  }

  function act(a: Action): void {
    switch (a.kind) {
      case 'crash': {
        const n = nodes[a.node] as SimNode;
        if (!n.up) return;
        for (const ip of n.answering) pendingFailover.set(ip, now);
        n.up = false;
        n.deadline = Number.NEGATIVE_INFINITY;
        refresh(n);
        rejoinsBefore += n.member.counters.rejoins;
        declaredBefore += n.member.counters.declaredDead;
        n.gen++;
        return;
      }
      case 'restart': {
        const n = nodes[a.node] as SimNode;
        if (n.up) return;
        n.gen++;
        n.up = true;
        n.member = newMember(n.id, now, 1000 + Math.round(now));
        n.member.setPeers(names);
        n.index = new OwnerIndex(n.name);
        n.index.setPlan(table);
        n.ownedApplied = new Set();
        n.inFlight = [];
        n.postedDeadline = Number.NEGATIVE_INFINITY;
        n.tickAt = Number.POSITIVE_INFINITY;
        pump(n);
        return;
      }
      case 'partition':
        side.fill(0);
        for (const i of a.side) side[i] = 1;
        recheckAll();
        return;
      case 'heal':
        side.fill(0);
        recheckAll();
        return;
      case 'stall': {
        const n = nodes[a.node] as SimNode;
        n.stalledUntil = now + a.ms;
        heap.push({ at: n.stalledUntil, kind: 'resume', node: n.id, gen: n.gen });
        return;
      }
      case 'main-lag':
        (nodes[a.node] as SimNode).mainLag = a.ms;
        return;
      case 'health': {
        const n = nodes[a.node] as SimNode;
        if (!n.up) return;
        if (!a.healthy) {
          // The edge stops answering first, then tells membership.
          n.deadline = Number.NEGATIVE_INFINITY;
          refresh(n);
        }
        n.member.setHealthy(a.healthy, now);
        pump(n);
        return;
      }
      case 'leave': {
        const n = nodes[a.node] as SimNode;
        if (!n.up) return;
        n.deadline = Number.NEGATIVE_INFINITY;
        refresh(n);
        n.member.leave(now, a.holdMs);
        pump(n);
        n.up = false;
        n.gen++;
        return;
      }
      case 'loss':
        loss = a.rate;
        return;
    }
  }

  function recheckAll(): void {
    for (const [ip, set] of answerers) {
      if (set.size < 2) continue;
      const list = [...set];
      for (let i = 0; i < list.length; i++)
        for (let j = i + 1; j < list.length; j++)
          if (sameSide(list[i] as number, list[j] as number))
            violations.push({
              at: now,
              ip,
              nodes: [names[list[i] as number] as string, names[list[j] as number] as string],
            });
    }
  }

  // --- the loop -------------------------------------------------------------------------------
  for (;;) {
    const ev = heap.pop();
    if (ev === undefined || ev.at > options.durationMs) break;
    now = ev.at;
    events++;
    if (process.env.SIM_DEBUG !== undefined && events % 200000 === 0)
      process.stderr.write(
        `t=${now.toFixed(1)} events=${events} heap=${heap.size} ${ev.kind} ${'node' in ev ? JSON.stringify((nodes[ev.node] as SimNode).member.debugDeadlines()) : ''}\n`,
      );
    if (ev.kind === 'action') {
      act(ev.action);
      continue;
    }
    const n = nodes[ev.node] as SimNode;
    if (ev.gen !== n.gen || !n.up) continue;
    switch (ev.kind) {
      case 'fence':
        refresh(n);
        break;
      case 'resume':
        if (now < n.stalledUntil) break;
        for (const m of n.held.splice(0)) n.member.onMessage(m, now);
        n.member.tick(now);
        pump(n);
        break;
      case 'main':
        if (now < n.stalledUntil) {
          heap.push({ ...ev, at: n.stalledUntil });
          break;
        }
        n.inFlight.shift();
        applyMain(n, ev.post);
        if (n.inFlight.length === 0) n.member.applied(n.member.version);
        pump(n);
        break;
      case 'deliver':
        if (now < n.stalledUntil) {
          n.held.push(ev.message);
          break;
        }
        n.member.onMessage(ev.message, now);
        pump(n);
        break;
      case 'tick':
        if (ev.at !== n.tickAt) break;
        n.tickAt = Number.POSITIVE_INFINITY;
        if (now < n.stalledUntil) break;
        n.member.tick(now);
        pump(n);
        break;
    }
  }

  // --- the end state --------------------------------------------------------------------------
  let one = 0;
  let none = 0;
  let several = 0;
  for (const ip of table.ips) {
    const count = answerers.get(ip)?.size ?? 0;
    if (count === 1) one++;
    else if (count === 0) none++;
    else several++;
  }
  const live = nodes.filter((n) => n.up);
  let viewsAgree = true;
  const sample = table.ips.filter((_, i) => i % Math.max(1, Math.floor(table.ips.length / 500)) === 0);
  const ref = live[0];
  if (ref !== undefined)
    for (const n of live)
      for (const ip of sample) if (n.index.owner(ip) !== ref.index.owner(ip)) viewsAgree = false;
  let rejoins = rejoinsBefore;
  let declared = declaredBefore;
  for (const n of nodes) {
    rejoins += n.member.counters.rejoins;
    declared += n.member.counters.declaredDead;
  }
  const doubles: string[] = [];
  for (const [ip, set] of answerers) {
    if (set.size < 2) continue;
    const list = [...set].map((i) => nodes[i] as SimNode);
    doubles.push(
      `${ip}: ` +
        list
          .map(
            (n) =>
              `${n.name}@${n.member.incarnation} owner=${n.index.owner(ip)} sees ${list
                .filter((o) => o !== n)
                .map((o) => `${o.name}:${n.member.status(o.name)}/${n.member.peerIncarnation(o.name)}`)
                .join(',')}`,
          )
          .join(' | '),
    );
  }
  return {
    doubles,
    violations,
    failoversMs: failovers,
    failoversPending: pendingFailover.size,
    bytesPerNodePerSecond: bytes / options.nodes / (options.durationMs / 1000),
    maxDatagramBytes: maxDatagram,
    messages,
    events,
    final: { one, none, several, viewsAgree },
    rejoins,
    declaredDead: declared,
    moves,
    wallMs: performance.now() - started,
    setupMs,
  };
}

const emptySet: ReadonlySet<string> = new Set();

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
