import { parseIP } from '../../lib/ip/index.js';
import type { ClusterSnapshot } from '../cluster/view.js';
import {
  ConflictReports,
  failoverStart,
  localHealth,
  ownedChange,
  peersOf,
  serviceChanges,
  serviceTarget,
} from './decisions.js';
import type { AnnouncedService } from './ownership/announced.js';
import type { InterfaceSnapshot } from './responder/interfaces.js';
import { testLink } from '../../test/support/links.js';

const link = testLink;

describe('localHealth', () => {
  const ok = { rawSocketOk: true, responderFailed: false };

  it('is up with an eligible interface that has carrier and working packet sockets', () => {
    expect(localHealth({ links: [link(2, 'eth0')], addresses: [] }, [], ok)).toEqual({
      linkUp: true,
      responderOk: true,
    });
  });

  it('counts only eligible interfaces: an excluded one with carrier does not keep the link up', () => {
    const snapshot: InterfaceSnapshot = {
      links: [link(2, 'eth0', { running: false }), link(3, 'veth9')],
      addresses: [],
    };
    expect(localHealth(snapshot, [/^veth/], ok).linkUp).toBe(false);
    expect(localHealth(snapshot, [], ok).linkUp).toBe(true);
  });

  it('says the responder is not ok when no socket opens, or when the responder reported one failing', () => {
    const snapshot = { links: [link(2, 'eth0')], addresses: [] };
    expect(localHealth(snapshot, [], { rawSocketOk: false, responderFailed: false }).responderOk).toBe(false);
    expect(localHealth(snapshot, [], { rawSocketOk: true, responderFailed: true }).responderOk).toBe(false);
  });
});

describe('ownedChange', () => {
  it('lists the IPs gained and lost, whatever their interfaces', () => {
    expect(
      ownedChange(
        [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', interfaces: ['eth0'] }],
        [{ ip: '10.0.0.2', interfaces: ['eth1'] }, { ip: '10.0.0.3' }],
      ),
    ).toEqual({ gained: ['10.0.0.3'], lost: ['10.0.0.1'] });
  });
});

describe('failoverStart', () => {
  const lostAt = (n: string) => (n === 'n2' ? 500 : undefined);
  it('is when membership lost the previous owner, if another node owned the IP', () => {
    expect(failoverStart('n2', 'n1', lostAt)).toBe(500);
    expect(failoverStart('n3', 'n1', lostAt)).toBeUndefined();
    expect(failoverStart(undefined, 'n1', lostAt)).toBeUndefined();
    expect(failoverStart('n1', 'n1', () => 1)).toBeUndefined();
  });
});

describe('serviceChanges', () => {
  const svc = (key: string, ips: string[], interfaces: string[] = []): AnnouncedService => ({
    key,
    ips,
    interfaces,
  });
  const map = (...s: AnnouncedService[]) => new Map(s.map((x) => [x.key, x]));

  it('a Service announced for the first time is assigned, its series set and the status written', () => {
    expect(serviceChanges(map(), map(svc('ns/a', ['10.0.0.1'])))).toEqual({
      changed: true,
      assigned: ['ns/a'],
      remove: [],
      set: [{ service: 'ns/a', ip: '10.0.0.1' }],
    });
  });

  it('the same Services change nothing', () => {
    const before = map(svc('ns/a', ['10.0.0.1'], ['eth0']));
    expect(serviceChanges(before, map(svc('ns/a', ['10.0.0.1'], ['eth0'])))).toEqual({
      changed: false,
      assigned: [],
      remove: [],
      set: [],
    });
  });

  it('a Service whose IPs or interfaces change is rewritten without a second nodeAssigned', () => {
    expect(serviceChanges(map(svc('ns/a', ['10.0.0.1'])), map(svc('ns/a', ['10.0.0.2'])))).toEqual({
      changed: true,
      assigned: [],
      remove: [{ service: 'ns/a', ip: '10.0.0.1' }],
      set: [{ service: 'ns/a', ip: '10.0.0.2' }],
    });
    expect(
      serviceChanges(map(svc('ns/a', ['10.0.0.1'])), map(svc('ns/a', ['10.0.0.1'], ['eth1']))).changed,
    ).toBe(true);
  });

  it('a Service no longer announced has its series removed', () => {
    expect(serviceChanges(map(svc('ns/a', ['10.0.0.1', 'fd00::1'])), map())).toEqual({
      changed: true,
      assigned: [],
      remove: [
        { service: 'ns/a', ip: '10.0.0.1' },
        { service: 'ns/a', ip: 'fd00::1' },
      ],
      set: [],
    });
  });
});

describe('ConflictReports', () => {
  it('reports an IP once per interval, whatever MAC claims it, and each IP on its own', () => {
    const r = new ConflictReports(30_000);
    expect(r.report('10.0.0.1', 0)).toBe(true);
    expect(r.report('10.0.0.1', 29_999)).toBe(false);
    expect(r.report('10.0.0.2', 29_999)).toBe(true);
    expect(r.report('10.0.0.1', 30_000)).toBe(true);
    expect(r.report('10.0.0.1', 40_000)).toBe(false);
  });
});

describe('serviceTarget and peersOf', () => {
  it('names the Service with its uid when the cluster view has one', () => {
    expect(serviceTarget('ns/web', { metadata: { uid: 'u1' } })).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      namespace: 'ns',
      name: 'web',
      uid: 'u1',
    });
    expect(serviceTarget('ns/web', undefined)).not.toHaveProperty('uid');
  });

  it('takes each Node’s first InternalIP as its membership address and skips Nodes without one', () => {
    const node = (name: string, ips: string[]) => ({
      name,
      labels: {},
      networkUnavailable: false,
      internalIPs: ips.map(parseIP),
    });
    const cluster = {
      nodes: [node('n1', ['192.168.10.11', 'fd00::11']), node('n2', []), node('n3', ['fd00::13'])],
    } as unknown as ClusterSnapshot;
    expect(peersOf(cluster)).toEqual([
      { name: 'n1', address: '192.168.10.11' },
      { name: 'n3', address: 'fd00::13' },
    ]);
  });
});
