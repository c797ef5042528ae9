import { parseIP } from '../../lib/ip/index.js';
import { servingNodes, toL2Service, toSpeakerNode, type EndpointSliceObject } from './objects.js';

const lb = (extra: Record<string, unknown> = {}) => ({
  metadata: {
    namespace: 'default',
    name: 'web',
    labels: { app: 'web' },
    annotations: { 'metallb.io/ip-allocated-from-pool': 'first-pool' },
  },
  spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ...extra },
  status: { loadBalancer: { ingress: [{ ip: '192.168.10.222' }, { ip: 'fd00::5' }, { hostname: 'x' }] } },
});

describe('mapping Services for the planners', () => {
  it('keeps the ingress IPs, the pool annotation, labels and the traffic policy', () => {
    expect(toL2Service(lb(), undefined)).toEqual({
      key: 'default/web',
      ips: [parseIP('192.168.10.222'), parseIP('fd00::5')],
      pool: 'first-pool',
      labels: { app: 'web' },
      externalTrafficPolicy: 'Local',
    });
  });

  it('ignores Services that are not LoadBalancers or belong to another load-balancer class', () => {
    expect(toL2Service(lb({ type: 'ClusterIP' }), undefined)).toBeUndefined();
    expect(toL2Service(lb({ loadBalancerClass: 'other' }), undefined)).toBeUndefined();
    expect(toL2Service(lb({ loadBalancerClass: 'ours' }), 'ours')?.key).toBe('default/web');
    expect(toL2Service(lb(), 'ours')).toBeUndefined();
  });
});

describe('mapping Nodes', () => {
  it('reads NetworkUnavailable and the InternalIPs, IPv4 first', () => {
    const n = toSpeakerNode({
      metadata: { name: 'node1', labels: { zone: 'a' } },
      status: {
        conditions: [{ type: 'NetworkUnavailable', status: 'True' }],
        addresses: [
          { type: 'InternalIP', address: 'fd00:77::11' },
          { type: 'Hostname', address: 'node1' },
          { type: 'InternalIP', address: '10.77.0.11' },
        ],
      },
    });
    expect(n.networkUnavailable).toBe(true);
    expect(n.internalIPs).toEqual([parseIP('10.77.0.11'), parseIP('fd00:77::11')]);
    expect(toSpeakerNode({ metadata: { name: 'n2' } }).networkUnavailable).toBe(false);
  });
});

describe('nodes with endpoints that count', () => {
  const slice = (service: string, endpoints: EndpointSliceObject['endpoints']): EndpointSliceObject => ({
    metadata: {
      namespace: 'default',
      name: `${service}-x`,
      labels: { 'kubernetes.io/service-name': service },
    },
    endpoints,
  });
  it('counts serving endpoints, and ready ones when serving is unset, per node', () => {
    const m = servingNodes([
      slice('web', [
        { nodeName: 'node1', conditions: { ready: true } },
        { nodeName: 'node2', conditions: { ready: false } },
        { nodeName: 'node3', conditions: { ready: false, serving: true, terminating: true } },
      ]),
      slice('web', [{ nodeName: 'node2', conditions: {} }]),
      slice('db', [{ nodeName: 'node1', conditions: { serving: false, ready: true } }]),
    ]);
    expect([...(m.get('default/web') ?? [])].sort()).toEqual(['node1', 'node2', 'node3']);
    expect(m.has('default/db')).toBe(false);
  });
});
