import { parseRange } from '../lib/ip/index.js';
import { createLogger } from '../lib/log.js';
import { Allocator } from './allocator/allocator.js';
import type { AllocatorPool } from './allocator/types.js';
import type { NamespaceObject, ServiceCondition, ServiceObject } from '../lib/service/service-object.js';
import { ServiceReconciler } from './service-reconciler.js';
import type { EventSpec } from './service-state.js';

const log = createLogger({ level: 'error', component: 'test', write: () => {} });
const pool = (name: string, range: string): AllocatorPool => ({
  name,
  ranges: [parseRange(range)],
  autoAssign: true,
  avoidBuggyIPs: false,
});

class MapCache<T> {
  readonly items = new Map<string, T>();
  get(k: string) {
    return this.items.get(k);
  }
  list() {
    return [...this.items.values()];
  }
  keys() {
    return [...this.items.keys()];
  }
  get size() {
    return this.items.size;
  }
}

type Patch = Record<string, Record<string, unknown>>;

/**
 * Applies the reconciler's patches to the cached Service the way the API server would. With
 * `statusDropsMetadata`, a status write keeps only the status, as a server whose status
 * strategy resets metadata would.
 */
function setup(
  pools = [pool('first-pool', '192.168.10.200-192.168.10.250')],
  { statusDropsMetadata = false } = {},
) {
  const services = new MapCache<ServiceObject>();
  let revision = 100;
  /** Every state the API server went through, per Service, as a watch would deliver them. */
  const history = new Map<string, ServiceObject[]>();
  const namespaces = new MapCache<NamespaceObject>();
  const writes: string[] = [];
  const events: (EventSpec & { service: string })[] = [];
  const requeued: string[] = [];
  const pendingChanges: Array<Map<string, number>> = [];
  const apply = (ns: string, name: string, patch: Patch) => {
    const k = `${ns}/${name}`;
    const svc = structuredClone(services.get(k)!);
    const status = patch.status as
      | { loadBalancer?: { ingress: unknown }; conditions?: (ServiceCondition & { $patch?: string })[] }
      | undefined;
    if (status?.loadBalancer)
      svc.status = { ...svc.status, loadBalancer: { ingress: (status.loadBalancer.ingress ?? []) as [] } };
    for (const c of status?.conditions ?? []) {
      const rest = (svc.status?.conditions ?? []).filter((x) => x.type !== c.type);
      svc.status = { ...svc.status, conditions: c.$patch === 'delete' ? rest : [...rest, c] };
    }
    const ann = (patch.metadata as { annotations?: Record<string, string | null> } | undefined)?.annotations;
    if (ann) {
      const merged: Record<string, string> = { ...svc.metadata!.annotations };
      for (const [a, v] of Object.entries(ann))
        if (v === null) delete merged[a];
        else merged[a] = v;
      svc.metadata!.annotations = merged;
    }
    svc.metadata!.resourceVersion = String(++revision);
    services.items.set(k, svc);
    history.set(k, [...(history.get(k) ?? []), structuredClone(svc)]);
    return { resourceVersion: svc.metadata!.resourceVersion, annotations: { ...svc.metadata!.annotations } };
  };
  const allocator = new Allocator(pools);
  const rec = new ServiceReconciler({
    services,
    namespaces,
    allocator,
    writer: {
      patchStatus: async (ns, name, body) => {
        writes.push(`status ${ns}/${name}`);
        const { metadata: _dropped, ...statusOnly } = body as Patch;
        return apply(ns, name, statusDropsMetadata ? statusOnly : (body as Patch));
      },
      patchMetadata: async (ns, name, body) => {
        writes.push(`metadata ${ns}/${name}`);
        return apply(ns, name, body as Patch);
      },
    },
    recordEvent: (svc, e) =>
      events.push({ ...e, service: `${svc.metadata?.namespace}/${svc.metadata?.name}` }),
    requeue: (keys) => requeued.push(...keys),
    now: () => Date.UTC(2025, 0, 1),
    log,
    onPendingChanged: () => pendingChanges.push(rec.pendingByReason()),
  });
  const add = (name: string, spec: ServiceObject['spec'] = {}, annotations: Record<string, string> = {}) => {
    services.items.set(`default/${name}`, {
      metadata: { name, namespace: 'default', annotations },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...spec },
    });
    return `default/${name}`;
  };
  return { services, rec, allocator, writes, events, requeued, add, history, pendingChanges };
}

describe('ServiceReconciler', () => {
  it('gives a Service the lowest free address with ipMode VIP, the pool annotation and a True condition', async () => {
    const t = setup();
    const k = t.add('web');
    await t.rec.reconcile(k);
    const svc = t.services.get(k)!;
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: '192.168.10.200', ipMode: 'VIP' }]);
    expect(svc.metadata?.annotations?.['metallb.io/ip-allocated-from-pool']).toBe('first-pool');
    expect(svc.status?.conditions).toEqual([
      {
        type: 'metallb.io/IPAllocated',
        status: 'True',
        reason: 'IPAllocated',
        message: '192.168.10.200 from IPAddressPool first-pool',
        lastTransitionTime: '2025-01-01T00:00:00Z',
      },
    ]);
    expect(t.events).toEqual([
      {
        type: 'Normal',
        reason: 'IPAllocated',
        message: 'Assigned IP 192.168.10.200 from IPAddressPool first-pool',
        service: k,
      },
    ]);
  });

  it('writes nothing when reconciling a Service that is already as it should be', async () => {
    const t = setup();
    const k = t.add('web');
    await t.rec.reconcile(k);
    t.writes.length = 0;
    await t.rec.reconcile(k);
    expect(t.writes).toEqual([]);
  });

  it('writes the address and the pool annotation in one status write', async () => {
    const t = setup();
    const k = t.add('web');
    await t.rec.reconcile(k);
    expect(t.writes).toEqual(['status default/web']);
    const [written] = t.history.get(k)!;
    expect(written?.status?.loadBalancer?.ingress).toEqual([{ ip: '192.168.10.200', ipMode: 'VIP' }]);
    expect(written?.metadata?.annotations?.['metallb.io/ip-allocated-from-pool']).toBe('first-pool');
  });

  it('writes the annotation on its own, first, once the server is seen dropping it from a status write', async () => {
    const t = setup(undefined, { statusDropsMetadata: true });
    const first = t.add('first');
    await t.rec.reconcile(first);
    // The answer showed no annotation: it is written at once, on its own.
    expect(t.writes).toEqual(['status default/first', 'metadata default/first']);
    expect(t.services.get(first)?.metadata?.annotations?.['metallb.io/ip-allocated-from-pool']).toBe(
      'first-pool',
    );
    t.writes.length = 0;
    const second = t.add('second');
    await t.rec.reconcile(second);
    expect(t.writes).toEqual(['metadata default/second', 'status default/second']);
    expect(t.services.get(second)?.status?.loadBalancer?.ingress).toEqual([
      { ip: '192.168.10.201', ipMode: 'VIP' },
    ]);
  });

  it('does not write again when the watch delivers its own half-written state (annotation, no status yet)', async () => {
    const t = setup(undefined, { statusDropsMetadata: true });
    await t.rec.reconcile(t.add('learn')); // the server is seen dropping metadata from status
    t.writes.length = 0;
    t.events.length = 0;
    const k = t.add('web');
    await t.rec.reconcile(k);
    expect(t.writes).toEqual(['metadata default/web', 'status default/web']);
    const [afterAnnotation, afterStatus] = t.history.get(k)!;
    expect(afterAnnotation?.status?.loadBalancer).toBeUndefined();

    // The annotation's watch event is reconciled before the status's arrives.
    t.services.items.set(k, afterAnnotation!);
    await t.rec.reconcile(k);
    t.services.items.set(k, afterStatus!);
    await t.rec.reconcile(k);
    expect(t.writes).toHaveLength(2);
    expect(t.events.map((e) => e.reason)).toEqual(['IPAllocated']);

    // Anyone else's change to that same half-written state is reconciled as usual.
    t.services.items.set(k, {
      ...afterAnnotation!,
      metadata: { ...afterAnnotation!.metadata, resourceVersion: '1' },
    });
    await t.rec.reconcile(k);
    expect(t.writes).toHaveLength(3);
  });

  it('retries in full after a failed status write, however the annotation went', async () => {
    const t = setup(undefined, { statusDropsMetadata: true });
    await t.rec.reconcile(t.add('learn')); // annotation and status are written separately now
    const k = t.add('web');
    const writer = (
      t.rec as unknown as { opts: { writer: { patchStatus: (...a: unknown[]) => Promise<unknown> } } }
    ).opts.writer;
    const real = writer.patchStatus;
    writer.patchStatus = () => Promise.reject(new Error('connection reset'));
    await expect(t.rec.reconcile(k)).rejects.toThrow('connection reset');
    writer.patchStatus = real;
    // The cache now holds our half-written state: the retry must not be skipped.
    await t.rec.reconcile(k);
    expect(t.services.get(k)?.status?.loadBalancer?.ingress).toEqual([
      { ip: '192.168.10.201', ipMode: 'VIP' },
    ]);
  });

  it('keeps every address and writes nothing after a restart', async () => {
    const t = setup();
    const keys = [t.add('c'), t.add('a', { loadBalancerIP: '192.168.10.222' }), t.add('b')];
    for (const k of keys) await t.rec.reconcile(k);
    const before = keys.map((k) => t.services.get(k)!.status?.loadBalancer?.ingress);

    const restarted = setup();
    for (const [k, v] of t.services.items) restarted.services.items.set(k, v);
    // A new Service created while the controller was down must not take a restored address.
    restarted.add('new');
    expect(restarted.rec.restore()).toBe(3);
    for (const k of [...keys, 'default/new'].sort()) await restarted.rec.reconcile(k);
    expect(keys.map((k) => restarted.services.get(k)!.status?.loadBalancer?.ingress)).toEqual(before);
    expect(restarted.writes).toEqual(['status default/new']);
    expect(restarted.services.get('default/new')!.status?.loadBalancer?.ingress?.[0]?.ip).toBe(
      '192.168.10.202',
    );
  });

  it('says when the pending reasons change, though a Service that gets no address changes no allocation', async () => {
    const t = setup();
    const bad = t.add('bad', { loadBalancerIP: '10.9.9.9' });
    await t.rec.reconcile(bad);
    await t.rec.reconcile(bad); // still pending for the same reason: no news
    t.services.items.get(bad)!.spec!.loadBalancerIP = '192.168.10.210';
    await t.rec.reconcile(bad);
    expect(t.pendingChanges).toEqual([new Map([['IPNotInAnyPool', 1]]), new Map()]);
  });

  it('leaves a bad request pending with a condition and a Warning event, touching no other Service', async () => {
    const t = setup();
    const good = t.add('good');
    await t.rec.reconcile(good);
    const goodBefore = structuredClone(t.services.get(good));
    const bad = t.add('bad', { loadBalancerIP: '10.9.9.9' });
    t.writes.length = 0;
    t.events.length = 0;
    await t.rec.reconcile(bad);
    const cond = t.services.get(bad)!.status?.conditions?.[0];
    expect(cond).toMatchObject({
      status: 'False',
      reason: 'IPNotInAnyPool',
      message: '10.9.9.9 is not in any IPAddressPool',
    });
    expect(t.services.get(bad)!.status?.loadBalancer?.ingress).toBeUndefined();
    expect(t.events).toEqual([
      {
        type: 'Warning',
        reason: 'AllocationFailed',
        message: '10.9.9.9 is not in any IPAddressPool',
        service: bad,
      },
    ]);
    expect(t.writes).toEqual(['status default/bad']);
    expect(t.services.get(good)).toEqual(goodBefore);
    expect(t.rec.pendingByReason()).toEqual(new Map([['IPNotInAnyPool', 1]]));

    t.events.length = 0;
    await t.rec.reconcile(bad);
    expect(t.events).toEqual([]);
  });

  it('names the owner when a requested address is taken', async () => {
    const t = setup();
    await t.rec.reconcile(t.add('first', { loadBalancerIP: '192.168.10.210' }));
    const second = t.add('second', { loadBalancerIP: '192.168.10.210' });
    await t.rec.reconcile(second);
    expect(t.services.get(second)!.status?.conditions?.[0]?.reason).toBe('IPInUse');
    expect(t.services.get(second)!.status?.conditions?.[0]?.message).toMatch(/default\/first/);
  });

  it('releases the address when the type changes, and retries pending Services', async () => {
    const t = setup([pool('tiny', '192.168.10.200-192.168.10.200')]);
    const a = t.add('a');
    const b = t.add('b');
    await t.rec.reconcile(a);
    await t.rec.reconcile(b);
    expect(t.services.get(b)!.status?.conditions?.[0]?.reason).toBe('PoolExhausted');

    t.services.items.set(a, { ...t.services.get(a)!, spec: { type: 'ClusterIP' } });
    await t.rec.reconcile(a);
    const svcA = t.services.get(a)!;
    expect(svcA.status?.loadBalancer?.ingress).toEqual([]);
    expect(svcA.status?.conditions).toEqual([]);
    expect(svcA.metadata?.annotations?.['metallb.io/ip-allocated-from-pool']).toBeUndefined();
    expect(t.events.at(-1)).toMatchObject({ reason: 'ClearAssignment', service: a });
    expect(t.requeued).toEqual([b]);

    await t.rec.reconcile(b);
    expect(t.services.get(b)!.status?.loadBalancer?.ingress).toEqual([
      { ip: '192.168.10.200', ipMode: 'VIP' },
    ]);
  });

  it('warns once per Service about a metallb.universe.tf/ annotation, and again when it changes', async () => {
    const t = setup([
      pool('first-pool', '192.168.10.200-192.168.10.250'),
      pool('other', '10.0.0.1-10.0.0.9'),
    ]);
    const k = t.add('old', {}, { 'metallb.universe.tf/address-pool': 'other' });
    await t.rec.reconcile(k);
    await t.rec.reconcile(k);
    expect(t.services.get(k)!.status?.loadBalancer?.ingress?.[0]?.ip).toBe('10.0.0.1');
    const warnings = () => t.events.filter((e) => e.reason === 'DeprecatedAnnotation');
    expect(warnings()).toEqual([
      {
        type: 'Warning',
        reason: 'DeprecatedAnnotation',
        message:
          'annotation metallb.universe.tf/address-pool is deprecated; use metallb.io/address-pool instead',
        service: k,
      },
    ]);
    const svc = t.services.get(k)!;
    svc.metadata!.annotations = { ...svc.metadata!.annotations, 'metallb.universe.tf/allow-shared-ip': 'x' };
    await t.rec.reconcile(k);
    expect(warnings().map((e) => e.message)).toEqual([
      'annotation metallb.universe.tf/address-pool is deprecated; use metallb.io/address-pool instead',
      'annotation metallb.universe.tf/address-pool is deprecated; use metallb.io/address-pool instead',
      'annotation metallb.universe.tf/allow-shared-ip is deprecated; use metallb.io/allow-shared-ip instead',
    ]);
  });

  it('never touches a Service of another load-balancer class', async () => {
    const t = setup();
    const k = t.add('other', { loadBalancerClass: 'someone-else' });
    await t.rec.reconcile(k);
    expect(t.writes).toEqual([]);
  });

  it('reallocates a Service whose address left every pool', async () => {
    const t = setup();
    const k = t.add('web');
    await t.rec.reconcile(k);
    const again = t.rec.setPools([pool('second', '10.0.0.1-10.0.0.9')]);
    expect(again).toEqual([k]);
    t.events.length = 0;
    await t.rec.reconcile(k);
    expect(t.services.get(k)!.status?.loadBalancer?.ingress).toEqual([{ ip: '10.0.0.1', ipMode: 'VIP' }]);
    expect(t.events.map((e) => e.reason)).toEqual(['ClearAssignment', 'IPAllocated']);
  });

  describe('taking over from MetalLB', () => {
    /** A Service as MetalLB leaves it: ingress without ipMode, the pool annotation, no condition. */
    const asMetalLB = (
      t: ReturnType<typeof setup>,
      name: string,
      ips: string[],
      spec: ServiceObject['spec'] = {},
    ) => {
      const k = t.add(name, spec, { 'metallb.io/ip-allocated-from-pool': 'first-pool' });
      t.services.items.get(k)!.status = { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } };
      return k;
    };

    it('keeps every address and writes nothing, in whatever order MetalLB wrote a pair', async () => {
      const dualPool: AllocatorPool = {
        name: 'dual',
        ranges: [parseRange('10.9.0.1-10.9.0.9'), parseRange('fd00::1-fd00::9')],
        autoAssign: true,
        avoidBuggyIPs: false,
      };
      const t = setup([pool('first-pool', '192.168.10.200-192.168.10.250'), dualPool]);
      const dual = { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' };
      const keys = [
        asMetalLB(t, 'a', ['192.168.10.203']),
        asMetalLB(t, 'b', ['192.168.10.201']),
        asMetalLB(t, 'c', ['192.168.10.200'], { loadBalancerIP: '192.168.10.200' }),
        // Requested as "fd00::2,10.9.0.2": MetalLB keeps the order of the request.
        asMetalLB(t, 'd', ['fd00::2', '10.9.0.2'], dual),
      ];
      t.services.items.get(keys[3]!)!.metadata!.annotations = {
        'metallb.io/ip-allocated-from-pool': 'dual',
        'metallb.io/loadBalancerIPs': 'fd00::2,10.9.0.2',
      };
      expect(t.rec.restore()).toBe(4);
      for (const k of keys) await t.rec.reconcile(k);
      expect(t.writes).toEqual([]);
      expect(t.events).toEqual([]);
      expect(t.services.get(keys[3]!)?.status?.loadBalancer?.ingress).toEqual([
        { ip: 'fd00::2' },
        { ip: '10.9.0.2' },
      ]);
      // A new dual-stack Service gets IPv4 first whatever its primary family, as from MetalLB.
      const e = t.add('e', dual);
      await t.rec.reconcile(e);
      expect(t.services.get(e)?.status?.loadBalancer?.ingress?.map((i) => i.ip)).toEqual([
        '10.9.0.1',
        'fd00::1',
      ]);
    });

    it('writes the condition with the first change the Service needs', async () => {
      const t = setup();
      const k = asMetalLB(t, 'web', ['192.168.10.210']);
      t.rec.restore();
      await t.rec.reconcile(k);
      expect(t.writes).toEqual([]);
      t.services.items.get(k)!.metadata!.annotations = { 'metallb.io/loadBalancerIPs': '192.168.10.220' };
      await t.rec.reconcile(k);
      expect(t.services.get(k)?.status?.conditions?.[0]).toMatchObject({
        status: 'True',
        message: '192.168.10.220 from IPAddressPool first-pool',
      });
    });

    it('replaces a status that holds no address with a Warning saying what it held', async () => {
      const t = setup();
      const k = asMetalLB(t, 'web', ['not-an-ip']);
      expect(t.rec.restore()).toBe(0);
      await t.rec.reconcile(k);
      expect(t.services.get(k)?.status?.loadBalancer?.ingress).toEqual([
        { ip: '192.168.10.200', ipMode: 'VIP' },
      ]);
      expect(t.events.map((e) => [e.type, e.reason, e.message])).toEqual([
        [
          'Warning',
          'ClearAssignment',
          'status.loadBalancer.ingress held "not-an-ip", which is not an IP address; not-an-ip released: no longer valid for this service',
        ],
        ['Normal', 'IPAllocated', 'Assigned IP 192.168.10.200 from IPAddressPool first-pool'],
      ]);
    });
  });
});
