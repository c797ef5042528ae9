import { compareRank, pairScore, textHash } from './hrw.js';
import { OwnerIndex } from './owner-index.js';
import { PlanTable, type OwnershipInput } from './plan-table.js';

const hashes = new Map<string, number>();
const hash = (text: string): number => {
  let h = hashes.get(text);
  if (h === undefined) hashes.set(text, (h = textHash(text)));
  return h;
};

/** The owner by definition: rank every eligible candidate from scratch. */
function bruteOwner(input: OwnershipInput, candidates: ReadonlySet<string>): string | undefined {
  const ranked = input.eligible
    .filter((n) => candidates.has(n))
    .map((node) => ({
      node,
      weight: input.weights.get(node) ?? 0,
      score: pairScore(hash(node), hash(input.ip)),
    }))
    .sort(compareRank);
  return ranked[0]?.node;
}

function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}

describe('OwnerIndex', () => {
  const nodes = Array.from({ length: 12 }, (_, i) => `n${i}`);
  const inputs: OwnershipInput[] = Array.from({ length: 200 }, (_, i) => ({
    ip: `192.0.2.${i}`,
    // Three eligibility groups, one with preferred-node weights.
    eligible: i % 3 === 0 ? nodes : i % 3 === 1 ? nodes.slice(0, 6) : nodes.slice(4),
    weights: i % 3 === 2 ? new Map([['n9', 50]]) : new Map(),
  }));

  it('keeps the same owners as a full recomputation through random joins and failures', () => {
    const index = new OwnerIndex('n0');
    index.setPlan(new PlanTable(inputs));
    const candidates = new Set<string>();
    const random = seeded(7);
    for (let step = 0; step < 120; step++) {
      const node = nodes[Math.floor(random() * nodes.length)] as string;
      const up = !candidates.has(node);
      if (up) candidates.add(node);
      else candidates.delete(node);
      const changes = index.setCandidate(node, up);
      for (const c of changes) expect(c.from === node || c.to === node).toBe(true);
      for (const input of inputs) expect(index.owner(input.ip)).toBe(bruteOwner(input, candidates));
      expect([...index.owned()].sort()).toEqual(
        inputs
          .filter((i) => bruteOwner(i, candidates) === 'n0')
          .map((i) => i.ip)
          .sort(),
      );
    }
  });

  it('reports exactly the IPs whose owner changed, and only those', () => {
    const index = new OwnerIndex('n0');
    index.setPlan(new PlanTable(inputs));
    for (const n of nodes) index.setCandidate(n, true);
    const before = new Map(inputs.map((i) => [i.ip, index.owner(i.ip)]));
    const changes = index.setCandidate('n3', false);
    const moved = inputs.filter((i) => before.get(i.ip) === 'n3').map((i) => i.ip);
    expect(changes.map((c) => c.ip).sort()).toEqual(moved.sort());
    expect(changes.every((c) => c.from === 'n3' && c.to !== undefined && c.to !== 'n3')).toBe(true);
    // A node coming back takes back exactly what it had (rendezvous hashing: no other IP moves).
    const back = index.setCandidate('n3', true);
    expect(back.map((c) => c.ip).sort()).toEqual(moved.sort());
  });

  it('prefers a weighted node wherever it is eligible and alive', () => {
    const index = new OwnerIndex('n9');
    index.setPlan(new PlanTable(inputs));
    for (const n of nodes) index.setCandidate(n, true);
    for (const input of inputs.filter((_, i) => i % 3 === 2)) expect(index.owner(input.ip)).toBe('n9');
  });

  it('a new plan re-ranks only IPs whose eligible nodes or weights changed, and drops removed IPs', () => {
    const index = new OwnerIndex('n0');
    index.setPlan(new PlanTable(inputs));
    for (const n of nodes) index.setCandidate(n, true);
    const changedIp = inputs[1] as OwnershipInput; // eligible n0..n5
    const next = inputs
      .filter((i) => i.ip !== '192.0.2.0')
      .map((i) => (i === changedIp ? { ...i, eligible: ['n11'] } : i));
    const changes = index.setPlan(new PlanTable(next));
    const ips = changes.map((c) => c.ip).sort();
    const expected = ['192.0.2.0'];
    if (bruteOwner(changedIp, new Set(nodes)) !== 'n11') expected.push(changedIp.ip);
    expect(ips).toEqual(expected.sort());
    expect(index.owner('192.0.2.0')).toBeUndefined();
    expect(index.owner(changedIp.ip)).toBe('n11');
  });

  it('spreads IPs over nodes (rendezvous hashing balances)', () => {
    const many: OwnershipInput[] = Array.from({ length: 3000 }, (_, i) => ({
      ip: `10.0.${i >> 8}.${i & 255}`,
      eligible: nodes,
      weights: new Map(),
    }));
    const index = new OwnerIndex('n0');
    index.setPlan(new PlanTable(many));
    for (const n of nodes) index.setCandidate(n, true);
    for (const n of nodes) {
      const share = index.ownedBy(n).length / many.length;
      expect(share).toBeGreaterThan(0.5 / nodes.length);
      expect(share).toBeLessThan(1.5 / nodes.length);
    }
  });

  describe('sticky (seniority ranks after weights, before the rendezvous score)', () => {
    const vip: OwnershipInput = { ip: '10.77.0.50', eligible: ['cp1', 'cp2', 'cp3'], weights: new Map() };
    /** The rendezvous order's first node for the VIP, and the others. */
    const [first, second, third] = ['cp1', 'cp2', 'cp3'].sort(
      (a, b) => pairScore(hash(a), hash(vip.ip)) - pairScore(hash(b), hash(vip.ip)),
    ) as [string, string, string];

    it('a node that becomes a candidate again does not take the VIP back from the interim owner', () => {
      const index = new OwnerIndex(first);
      index.setPlan(new PlanTable([vip]));
      index.setCandidate(first, true, 100);
      index.setCandidate(second, true, 101);
      index.setCandidate(third, true, 102);
      expect(index.owner(vip.ip)).toBe(first);
      index.setCandidate(first, false);
      expect(index.owner(vip.ip)).toBe(second);
      // Recovered: a new candidacy, junior to every candidate (member.ts gives it seniority 200).
      expect(index.setCandidate(first, true, 200)).toEqual([]);
      expect(index.owner(vip.ip)).toBe(second);
      expect(index.owned().size).toBe(0);
    });

    it('the most senior candidate owns whatever the rendezvous order says; equal seniority falls back to it', () => {
      const index = new OwnerIndex(third);
      index.setPlan(new PlanTable([vip]));
      index.setCandidate(first, true, 5);
      index.setCandidate(third, true, 3);
      expect(index.owner(vip.ip)).toBe(third);
      expect([...index.owned()]).toEqual([vip.ip]);
      index.setCandidate(second, true, 3);
      expect(index.owner(vip.ip)).toBe(second);
      expect(index.owned().size).toBe(0);
    });

    it('a candidate whose seniority changes is ranked anew', () => {
      const index = new OwnerIndex(first);
      index.setPlan(new PlanTable([vip]));
      index.setCandidate(first, true, 1);
      index.setCandidate(second, true, 2);
      expect(index.owner(vip.ip)).toBe(first);
      const changes = index.setCandidate(first, true, 9);
      expect(index.owner(vip.ip)).toBe(second);
      expect(changes[changes.length - 1]).toEqual({ ip: vip.ip, from: first, to: second });
    });

    it('weights still come first', () => {
      const index = new OwnerIndex(first);
      index.setPlan(new PlanTable([{ ...vip, weights: new Map([[third, 10]]) }]));
      index.setCandidate(first, true, 1);
      index.setCandidate(third, true, 50);
      expect(index.owner(vip.ip)).toBe(third);
    });

    it('keeps a new plan’s owners by seniority', () => {
      const index = new OwnerIndex(first);
      index.setPlan(new PlanTable([vip]));
      index.setCandidate(third, true, 1);
      index.setCandidate(first, true, 2);
      index.setPlan(new PlanTable([vip, { ...vip, ip: '10.77.0.51' }]));
      expect(index.owner('10.77.0.51')).toBe(third);
      expect(index.owner(vip.ip)).toBe(third);
    });
  });
});
