// Random allocate / release / assign / setPools sequences from a seeded PRNG, checked after every
// step against invariants recomputed from scratch. A failing seed replays exactly.

import type { IPAddress, IPFamily } from '../../lib/ip/index.js';
import { formatIP, isBuggyIPv4, parseIP } from '../../lib/ip/index.js';
import { Allocator } from './allocator.js';
import type { AllocatorPool, PortProtocol, ServiceRequest } from './types.js';
import { mulberry32 } from '../../test/support/prng.js';
import { testPool } from '../../test/support/pools.js';

const configA = [
  testPool('small', ['10.0.0.250-10.0.1.5'], { avoidBuggyIPs: true }),
  testPool('dual', ['10.2.0.0/29', 'fc00::/125']),
  testPool('team', ['10.3.0.0/30'], { serviceAllocation: { priority: 1, namespaces: ['team'] } }),
  testPool('manual', ['10.4.0.0/30'], { autoAssign: false }),
];
const configB = [
  testPool('small', ['10.0.0.250-10.0.0.254']),
  testPool('dual', ['10.2.0.0/30', 'fc00::/125']),
  testPool('dual-upper', ['10.2.0.4/30']),
  testPool('team', ['10.3.0.0/30', '10.0.1.1-10.0.1.5'], {
    serviceAllocation: { priority: 1, namespaces: ['team'] },
  }),
];

const requestable = ['10.0.0.251', '10.0.1.0', '10.2.0.3', '10.3.0.1', '10.4.0.2', '10.9.9.9', '10.0.0.255'];
const ports: { protocol: PortProtocol; port: number }[] = [
  { protocol: 'TCP', port: 80 },
  { protocol: 'TCP', port: 443 },
  { protocol: 'UDP', port: 53 },
];

function randomRequest(random: () => number): ServiceRequest {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const namespace = pick(['default', 'team', 'other']);
  const key = `${namespace}/s${Math.floor(random() * 8)}`;
  const shape = random();
  const [families, familyPolicy]: [IPFamily[], ServiceRequest['familyPolicy']] =
    shape < 0.7
      ? [[4], 'SingleStack']
      : shape < 0.8
        ? [[6], 'SingleStack']
        : shape < 0.9
          ? [[4, 6], 'PreferDualStack']
          : [[6, 4], 'RequireDualStack'];
  const chosenPorts = ports.filter(() => random() < 0.5);
  const r = random();
  return {
    key,
    namespace,
    labels: {},
    namespaceLabels: {},
    families,
    familyPolicy,
    requestedIPs: r < 0.1 && families.length === 1 && families[0] === 4 ? [parseIP(pick(requestable))] : [],
    ...(r > 0.92 ? { requestedPool: pick(['small', 'dual', 'manual', 'team', 'nope']) } : {}),
    sharingKey: pick(['', '', 'k1', 'k2']),
    ports: chosenPorts.length > 0 ? chosenPorts : [ports[0]!],
    backendKey: random() < 0.8 ? '' : 'app=x',
  };
}

/** Every address a pool may hand out, by brute force (the pools here are tiny). */
function enumerate(p: AllocatorPool, family: IPFamily): bigint[] {
  const out: bigint[] = [];
  for (const r of p.ranges) {
    if (r.family !== family) continue;
    for (let v = r.first; v <= r.last; v++)
      if (!(family === 4 && p.avoidBuggyIPs && isBuggyIPv4(v))) out.push(v);
  }
  return out;
}

function compatible(a: ServiceRequest, b: ServiceRequest): boolean {
  return (
    a.sharingKey !== '' &&
    a.sharingKey === b.sharingKey &&
    a.backendKey === b.backendKey &&
    !a.ports.some((p) => b.ports.some((q) => p.protocol === q.protocol && p.port === q.port))
  );
}

/** Plain checks rather than expect(): this runs after every step and must stay cheap. */
function invariant(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

function checkInvariants(
  allocator: Allocator,
  pools: AllocatorPool[],
  requests: Map<string, ServiceRequest>,
): void {
  const byName = new Map(pools.map((p) => [p.name, p]));
  const holders = new Map<string, { ip: IPAddress; services: string[] }>();
  for (const [key, allocation] of allocator.allocations()) {
    const p = byName.get(allocation.pool);
    invariant(p !== undefined, () => `${key} holds an address from unknown pool ${allocation.pool}`);
    const [first, second] = allocation.ips;
    invariant(
      second === undefined || first!.family !== second.family,
      () => `${key} holds two of one family`,
    );
    for (const ip of allocation.ips) {
      invariant(
        enumerate(p!, ip.family).includes(ip.value),
        () => `${key}: ${formatIP(ip)} is not in pool ${p!.name}`,
      );
      const id = formatIP(ip);
      const entry = holders.get(id) ?? { ip, services: [] };
      entry.services.push(key);
      holders.set(id, entry);
    }
  }
  // Never two holders of one address unless every pair may share.
  for (const { ip, services } of holders.values()) {
    for (let i = 0; i < services.length; i++) {
      for (let j = i + 1; j < services.length; j++) {
        const a = requests.get(services[i]!)!;
        const b = requests.get(services[j]!)!;
        invariant(
          compatible(a, b),
          () => `${formatIP(ip)} held by ${a.key} and ${b.key}, which may not share`,
        );
      }
    }
    const owners = allocator.ownerOf(ip)?.services.join(' ');
    invariant(
      owners === [...services].sort().join(' '),
      () => `ownerOf(${formatIP(ip)}) = ${owners}, holders ${services}`,
    );
  }
  // Usage equals a recount.
  for (const p of pools) {
    const usage = allocator.usage(p.name)!;
    for (const family of [4, 6] as const) {
      const all = enumerate(p, family);
      const inPool = new Set(all);
      let used = 0;
      let assigned = 0;
      for (const { ip } of holders.values()) {
        if (ip.family !== family) continue;
        if (inPool.has(ip.value)) used++;
        if (allocator.ownerOf(ip)?.pool === p.name) assigned++;
      }
      const got = family === 4 ? usage.ipv4 : usage.ipv6;
      const want = { assigned, available: BigInt(all.length - used), capacity: BigInt(all.length) };
      invariant(
        got.assigned === want.assigned && got.available === want.available && got.capacity === want.capacity,
        () =>
          `pool ${p.name} IPv${family}: usage ${JSON.stringify(got, big)}, recount ${JSON.stringify(want, big)}`,
      );
    }
  }
}

const big = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

function run(seed: number, steps: number, check: boolean): [string, string][] {
  const random = mulberry32(seed);
  let pools = configA;
  const allocator = new Allocator(pools);
  const requests = new Map<string, ServiceRequest>();
  for (let step = 0; step < steps; step++) {
    const op = random();
    if (op < 0.6) {
      const req = randomRequest(random);
      const result = allocator.allocate(req);
      if (result.ok) requests.set(req.key, req);
      else requests.delete(req.key);
    } else if (op < 0.85) {
      const req = randomRequest(random);
      allocator.release(req.key);
      requests.delete(req.key);
    } else if (op < 0.95) {
      // assign() a random requestable address: either it is refused or it is recorded.
      const req = randomRequest(random);
      const ip = parseIP(requestable[Math.floor(random() * requestable.length)]!);
      if (allocator.assign({ ...req, families: [4], familyPolicy: 'SingleStack' }, [ip]).ok) {
        requests.set(req.key, { ...req, families: [4], familyPolicy: 'SingleStack' });
      }
    } else {
      pools = pools === configA ? configB : configA;
      for (const key of allocator.setPools(pools).released) requests.delete(key);
    }
    for (const key of requests.keys()) if (allocator.allocationOf(key) === undefined) requests.delete(key);
    if (check) checkInvariants(allocator, pools, requests);
  }
  return allocator.allocations().map(([k, a]) => [k, `${a.pool}:${a.ips.map(formatIP).join(',')}`]);
}

describe('Allocator (property)', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'never gives one address to services that may not share, and counts right (seed %i)',
    (seed) => {
      run(seed, 1500, true);
    },
  );

  it('gives the same result for the same sequence', () => {
    expect(run(42, 2000, false)).toEqual(run(42, 2000, false));
  });

  it.each([11, 12, 13])('always hands out the lowest free address in listed order (seed %i)', (seed) => {
    const random = mulberry32(seed);
    const p = testPool('p', ['10.0.1.250-10.0.2.10', '10.0.0.0/30'], { avoidBuggyIPs: true });
    const allocator = new Allocator([p]);
    const usable = enumerate(p, 4);
    const held = new Map<string, bigint>();
    for (let step = 0; step < 1500; step++) {
      const key = `default/s${Math.floor(random() * 40)}`;
      if (held.has(key) && random() < 0.5) {
        allocator.release(key);
        held.delete(key);
        continue;
      }
      if (held.has(key)) continue;
      const taken = new Set(held.values());
      const expected = usable.find((v) => !taken.has(v));
      const result = allocator.allocate({
        key,
        namespace: 'default',
        labels: {},
        namespaceLabels: {},
        families: [4],
        familyPolicy: 'SingleStack',
        requestedIPs: [],
        sharingKey: '',
        ports: [{ protocol: 'TCP', port: 80 }],
        backendKey: '',
      });
      if (expected === undefined) {
        expect(result).toMatchObject({ ok: false, failure: { reason: 'pool-exhausted', pool: 'p' } });
      } else {
        expect(result.ok && result.allocation.ips[0]!.value).toBe(expected);
        held.set(key, expected);
      }
    }
  });
});
