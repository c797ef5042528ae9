// The speaker's status objects (BGPSessionState, ServiceBGPStatus, ServiceL2Status) against a
// real API server, written as the speaker's own identity: each carries an ownerReference to the
// speaker's Pod when the Pod is known (POD_NAME / POD_UID), none when it is not (a plain
// process, as in the lab), and a restarted speaker on the same node (a new Pod) takes over
// the objects its predecessor left: the ones it still wants are kept (same object), re-owned
// by the new Pod even when their status needs no write, and updated; the rest are deleted.
// The test control plane runs no garbage collector, so the ownerReference is checked as a
// field, not by a deletion.

import { KubeClient } from '../../lib/kube/client.js';
import { createLogger } from '../../lib/log.js';
import { ServiceBgpStatusWriter } from '../../speaker/bgp/status/service-status-writer.js';
import { sessionStateStatus } from '../../speaker/bgp/status/session-state.js';
import { SessionStateWriter } from '../../speaker/bgp/status/session-state-writer.js';
import type { SessionStatus } from '../../speaker/bgp/session/sessions.js';
import { L2StatusWriter } from '../../speaker/layer2/status.js';
import type { OwnerReference } from '../../speaker/status/status-objects.js';
import type { StatusWriterOptions } from '../../speaker/status/service-status-writer.js';
import { testEnv } from '../env/testenv.js';

const env = testEnv();
const ns = 'metallb-system';
const run = Math.random().toString(36).slice(2, 7);
const quiet = createLogger({ level: 'error', component: 'test', write: () => undefined });

interface Item {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  };
  status?: Record<string, unknown>;
}

const list = async (plural: string, node: string): Promise<Item[]> =>
  (
    JSON.parse(
      await env.kubectl(['get', plural, '-n', ns, '-l', `metallb.io/node=${node}`, '-o', 'json']),
    ) as {
      items: Item[];
    }
  ).items;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pod = (suffix: string): OwnerReference => ({
  apiVersion: 'v1',
  kind: 'Pod',
  name: `speaker-${run}-${suffix}`,
  uid: `grx-${run}-uid-${suffix}`,
});
const podA = pod('a');
const podB = pod('b');

function writerOptions(node: string, owner?: OwnerReference): StatusWriterOptions {
  const kubeConfig = env.kubeConfig('speaker');
  return {
    node,
    namespace: ns,
    api: new KubeClient(kubeConfig),
    log: quiet,
    minIntervalMs: 0,
    retryMs: 100,
    ...(owner ? { owner } : {}),
  };
}

const session = (name: string, state: string, since: number): SessionStatus => ({
  name,
  peer: `10.77.0.1:179`,
  address: '10.77.0.1',
  state,
  established: state === 'Established',
  announced: state === 'Established' ? 1 : 0,
  bfd: false,
  since,
});

const refs = (o: Item | undefined): OwnerReference[] | undefined =>
  o?.metadata.ownerReferences?.map(({ apiVersion, kind, name, uid }) => ({ apiVersion, kind, name, uid }));

describe("the speaker's status objects", () => {
  const nodes: string[] = [];
  const nodeName = (what: string): string => {
    const n = `grx-${run}-${what}`;
    nodes.push(n);
    return n;
  };

  afterAll(async () => {
    for (const node of nodes)
      await env
        .kubectl([
          'delete',
          'bgpsessionstates,servicebgpstatuses,servicel2statuses',
          '-n',
          ns,
          '-l',
          `metallb.io/node=${node}`,
          '--ignore-not-found',
        ])
        .catch(() => undefined);
  });

  it('BGPSessionState: owned by the Pod; a restarted speaker re-owns what it keeps, updates it, and deletes the rest', async () => {
    const node = nodeName('sess');
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const first = new SessionStateWriter(writerOptions(node, podA));
    first.set(
      new Map([
        ['grx-up', sessionStateStatus(node, session('grx-up', 'Established', t0), undefined)],
        ['grx-gone', sessionStateStatus(node, session('grx-gone', 'Active', t0), undefined)],
      ]),
    );
    const before = await eventually('two BGPSessionStates owned by pod A', async () => {
      const items = await list('bgpsessionstates', node);
      return items.length === 2 && items.every((o) => o.status?.bgpStatus !== undefined) ? items : undefined;
    });
    for (const o of before) expect(refs(o)).toEqual([podA]);
    const kept = before.find((o) => o.metadata.name === `${node}-grx-up`);
    expect(kept?.status).toMatchObject({ bgpStatus: 'Established', node });

    // The first speaker dies without cleaning up (SIGKILL); the new Pod's speaker wants one of
    // the two sessions, in the same state: no status write is due, the owner must move anyway.
    const second = new SessionStateWriter(writerOptions(node, podB));
    second.set(
      new Map([['grx-up', sessionStateStatus(node, session('grx-up', 'Established', t0), undefined)]]),
    );
    const after = await eventually('one BGPSessionState, owned by pod B', async () => {
      const items = await list('bgpsessionstates', node);
      return items.length === 1 && refs(items[0])?.[0]?.uid === podB.uid ? items : undefined;
    });
    expect(after[0]?.metadata.uid).toBe(kept?.metadata.uid);
    expect(refs(after[0])).toEqual([podB]);

    // And it keeps writing the object it took over.
    second.set(
      new Map([['grx-up', sessionStateStatus(node, session('grx-up', 'Idle', t0 + 1000), undefined)]]),
    );
    await eventually('the new status', async () =>
      (await list('bgpsessionstates', node))[0]?.status?.bgpStatus === 'Idle' ? true : undefined,
    );
    await second.clear();
    expect(await list('bgpsessionstates', node)).toEqual([]);
  });

  it('ServiceBGPStatus: owned by the Pod; a restarted speaker re-owns and updates what it keeps, deletes the rest', async () => {
    const node = nodeName('svc');
    const first = new ServiceBgpStatusWriter(writerOptions(node, podA));
    first.set(
      new Map([
        ['grx/web', ['peer-a']],
        ['grx/old', ['peer-a']],
      ]),
    );
    const before = await eventually('two ServiceBGPStatuses owned by pod A', async () => {
      const items = await list('servicebgpstatuses', node);
      return items.length === 2 && items.every((o) => o.status?.peers !== undefined) ? items : undefined;
    });
    for (const o of before) expect(refs(o)).toEqual([podA]);
    const web = before.find((o) => o.metadata.labels?.['metallb.io/service-name'] === 'web');

    const second = new ServiceBgpStatusWriter(writerOptions(node, podB));
    second.set(new Map([['grx/web', ['peer-a', 'peer-b']]]));
    const after = await eventually('one ServiceBGPStatus, owned by pod B, updated', async () => {
      const items = await list('servicebgpstatuses', node);
      return items.length === 1 && (items[0]?.status?.peers as string[] | undefined)?.length === 2
        ? items
        : undefined;
    });
    expect(after[0]?.metadata.uid).toBe(web?.metadata.uid);
    expect(refs(after[0])).toEqual([podB]);
    expect(after[0]?.status).toEqual({
      node,
      serviceName: 'web',
      serviceNamespace: 'grx',
      peers: ['peer-a', 'peer-b'],
    });
    await second.clear();
  });

  it('ServiceL2Status: owned by the Pod, and taken over by a restarted speaker’s Pod', async () => {
    const node = nodeName('l2');
    const writer = new L2StatusWriter({ ...writerOptions(node, podA), isGone: () => false });
    writer.set(new Map([['grx/web', { key: 'grx/web', ips: ['10.77.100.10'], interfaces: [] }]]));
    const [obj] = await eventually('a ServiceL2Status', async () => {
      const items = await list('servicel2statuses', node);
      return items.length === 1 && items[0]?.status?.node === node ? items : undefined;
    });
    expect(refs(obj)).toEqual([podA]);

    // The speaker restarted in a new Pod.
    const second = new L2StatusWriter({ ...writerOptions(node, podB), isGone: () => false });
    second.set(new Map([['grx/web', { key: 'grx/web', ips: ['10.77.100.10'], interfaces: ['eth0'] }]]));
    const [taken] = await eventually('the ServiceL2Status owned by pod B', async () => {
      const items = await list('servicel2statuses', node);
      return items.length === 1 && refs(items[0])?.[0]?.uid === podB.uid ? items : undefined;
    });
    expect(taken?.metadata.uid).toBe(obj?.metadata.uid);
    await eventually('the new interfaces', async () =>
      JSON.stringify((await list('servicel2statuses', node))[0]?.status?.interfaces) === '[{"name":"eth0"}]'
        ? true
        : undefined,
    );
    await second.clear();
  });

  it('writes no ownerReference without a Pod (a speaker run as a plain process), and removes a predecessor’s', async () => {
    const node = nodeName('plain');
    const withPod = new SessionStateWriter(writerOptions(node, podA));
    withPod.set(
      new Map([['grx-up', sessionStateStatus(node, session('grx-up', 'Established', 0), undefined)]]),
    );
    await eventually('the object owned by pod A', async () =>
      refs((await list('bgpsessionstates', node))[0])?.[0]?.uid === podA.uid ? true : undefined,
    );
    const plain = new SessionStateWriter(writerOptions(node));
    plain.set(
      new Map([
        ['grx-up', sessionStateStatus(node, session('grx-up', 'Established', 0), undefined)],
        ['grx-new', sessionStateStatus(node, session('grx-new', 'Connect', 0), undefined)],
      ]),
    );
    const items = await eventually('two objects without owners', async () => {
      const l = await list('bgpsessionstates', node);
      return l.length === 2 && l.every((o) => o.metadata.ownerReferences === undefined) ? l : undefined;
    });
    expect(items.map((o) => o.metadata.name).sort()).toEqual([`${node}-grx-new`, `${node}-grx-up`]);

    const bgp = new ServiceBgpStatusWriter(writerOptions(node));
    bgp.set(new Map([['grx/web', ['peer-a']]]));
    const [svc] = await eventually('a ServiceBGPStatus', async () => {
      const l = await list('servicebgpstatuses', node);
      return l.length === 1 && l[0]?.status?.peers !== undefined ? l : undefined;
    });
    expect(svc?.metadata.ownerReferences).toBeUndefined();
    await plain.clear();
    await bgp.clear();
  });
});
