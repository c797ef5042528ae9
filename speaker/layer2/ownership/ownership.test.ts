import { parseIP } from '../../../lib/ip/index.js';
import { electionHash, electOwners } from './ownership.js';
import type { MemberView } from './ownership.js';
import type { L2Plan } from '../plan/types.js';

const ip = '192.168.10.222';

function plan(eligible: string[], weights: Record<string, number> = {}): L2Plan {
  return {
    ips: [
      {
        ip,
        address: parseIP(ip),
        services: ['ns/web'],
        eligible,
        weights: new Map(Object.entries(weights)),
        interfaces: new Map(eligible.map((n) => [n, 'all' as const])),
      },
    ],
    notAnnounced: new Map(),
  };
}

type M = [name: string, alive: boolean, healthy: boolean, term?: number];
function members(...ms: M[]): Map<string, MemberView> {
  return new Map(
    ms.map(([node, alive, healthy, term]) => [
      node,
      { node, alive, healthy, claims: new Map(term === undefined ? [] : [[ip, term]]) },
    ]),
  );
}

const hashOrder = ['n1', 'n2', 'n3', 'n4'].sort((a, b) =>
  electionHash(a, ip) < electionHash(b, ip) ? -1 : 1,
);
const [first = '', second = '', third = ''] = hashOrder;

describe('electOwners', () => {
  const cases: {
    name: string;
    eligible: string[];
    weights?: Record<string, number>;
    members: M[];
    owner?: string;
    term?: number;
  }[] = [
    {
      name: 'picks the lowest sha256(node#ip) when nobody claims the IP',
      eligible: hashOrder,
      members: hashOrder.map((n): M => [n, true, true]),
      owner: first,
      term: 1,
    },
    {
      name: 'prefers the highest preferred weight over the hash',
      eligible: hashOrder,
      weights: { [third]: 5 },
      members: hashOrder.map((n): M => [n, true, true]),
      owner: third,
      term: 1,
    },
    {
      name: 'keeps the incumbent claimant although a node with a better hash is there',
      eligible: hashOrder,
      members: [
        [first, true, true],
        [second, true, true, 4],
      ],
      owner: second,
      term: 4,
    },
    {
      name: 'keeps the incumbent although a node with a higher preferred weight joined',
      eligible: hashOrder,
      weights: { [first]: 100 },
      members: [
        [first, true, true],
        [second, true, true, 2],
      ],
      owner: second,
      term: 2,
    },
    {
      name: 'takes over from a dead claimant with a higher term',
      eligible: hashOrder,
      members: [
        [first, false, true, 7],
        [second, true, true],
        [third, true, true],
      ],
      owner: second,
      term: 8,
    },
    {
      name: 'takes over from an unhealthy claimant',
      eligible: hashOrder,
      members: [
        [first, true, false, 1],
        [third, true, true],
      ],
      owner: third,
      term: 2,
    },
    {
      name: 'takes over from a claimant that is no longer eligible',
      eligible: [second, third],
      members: [
        [first, true, true, 3],
        [second, true, true],
        [third, true, true],
      ],
      owner: second,
      term: 4,
    },
    {
      name: 'resolves two claims after a partition: the lower term wins',
      eligible: hashOrder,
      members: [
        [first, true, true, 6],
        [second, true, true, 5],
      ],
      owner: second,
      term: 5,
    },
    {
      name: 'resolves two claims with equal terms by the hash',
      eligible: hashOrder,
      members: [
        [second, true, true, 1],
        [first, true, true, 1],
      ],
      owner: first,
      term: 1,
    },
    {
      name: 'ignores speakers that are not eligible at all',
      eligible: [third],
      members: [
        [first, true, true],
        [third, true, true],
      ],
      owner: third,
      term: 1,
    },
    {
      name: 'has no owner when no eligible node is alive and healthy',
      eligible: [first],
      members: [[first, false, true]],
    },
  ];
  it.each(cases)('$name', ({ eligible, weights, members: ms, owner, term }) => {
    const e = electOwners(plan(eligible, weights), members(...ms), first);
    const got = e.owners.get(ip);
    expect(got && { owner: got.owner, term: got.term }).toEqual(
      owner === undefined ? undefined : { owner, term },
    );
    expect(e.claims.get(ip)).toBe(owner === first ? term : undefined);
    if (owner === undefined) expect(e.notAnnounced.get('ns/web')).toEqual([{ kind: 'no-live-node', ip }]);
  });

  it('does not claim before this speaker is ready, though it is the owner for everyone', () => {
    const e = electOwners(plan(hashOrder), members([first, true, true], [second, true, true]), first, false);
    expect(e.owners.get(ip)?.owner).toBe(first);
    expect(e.claims.size).toBe(0);
  });
});
