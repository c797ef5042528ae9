import { parseIP } from '../lib/ip/index.js';
import { isServedByUs, type ServiceObject } from '../lib/service/service-object.js';
import {
  buildServiceRequest,
  deprecatedAnnotationMessage,
  deprecatedAnnotations,
} from './service-request.js';

function svc(spec: ServiceObject['spec'] = {}, ann: Record<string, string> = {}): ServiceObject {
  return {
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, annotations: ann },
    spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...spec },
  };
}

function request(s: ServiceObject) {
  const r = buildServiceRequest(s, { team: 'a' });
  if (!r.ok) throw new Error(r.problem.message);
  return r.request;
}

function problem(s: ServiceObject) {
  const r = buildServiceRequest(s, {});
  if (r.ok) throw new Error('expected a problem');
  return r.problem;
}

describe('isServedByUs', () => {
  it('serves LoadBalancer Services without a class when --lb-class is unset', () => {
    expect(isServedByUs(svc(), undefined)).toBe(true);
    expect(isServedByUs(svc({ loadBalancerClass: 'other' }), undefined)).toBe(false);
  });
  it('serves only the matching class when --lb-class is set', () => {
    expect(isServedByUs(svc({ loadBalancerClass: 'beacon' }), 'beacon')).toBe(true);
    expect(isServedByUs(svc(), 'beacon')).toBe(false);
    expect(isServedByUs(svc({ loadBalancerClass: 'other' }), 'beacon')).toBe(false);
  });
  it('ignores other Service types', () => {
    expect(isServedByUs(svc({ type: 'ClusterIP' }), undefined)).toBe(false);
    expect(isServedByUs(svc({ type: 'NodePort' }), undefined)).toBe(false);
  });
});

describe('buildServiceRequest', () => {
  it('maps a plain Service to an IPv4 single-stack request with its ports and labels', () => {
    const r = request(svc({ ports: [{ port: 80 }, { port: 53, protocol: 'UDP' }] }));
    expect(r).toEqual({
      key: 'shop/web',
      namespace: 'shop',
      labels: { app: 'web' },
      namespaceLabels: { team: 'a' },
      families: [4],
      familyPolicy: 'SingleStack',
      requestedIPs: [],
      sharingKey: '',
      ports: [
        { protocol: 'TCP', port: 80 },
        { protocol: 'UDP', port: 53 },
      ],
      backendKey: '',
    });
  });

  it('takes spec.loadBalancerIP as the requested address', () => {
    expect(request(svc({ loadBalancerIP: '192.168.10.222' })).requestedIPs).toEqual([
      parseIP('192.168.10.222'),
    ]);
  });

  it('reads the loadBalancerIPs annotation in both spellings, preferring metallb.io', () => {
    expect(request(svc({}, { 'metallb.universe.tf/loadBalancerIPs': '10.0.0.1' })).requestedIPs).toEqual([
      parseIP('10.0.0.1'),
    ]);
    const both = svc(
      {},
      {
        'metallb.io/loadBalancerIPs': '10.0.0.2, fd00::2',
        'metallb.universe.tf/loadBalancerIPs': '10.0.0.1',
      },
    );
    expect(request(both).requestedIPs).toEqual([parseIP('10.0.0.2'), parseIP('fd00::2')]);
  });

  it('reads address-pool and allow-shared-ip in both spellings', () => {
    const r = request(
      svc({}, { 'metallb.universe.tf/address-pool': 'blue', 'metallb.io/allow-shared-ip': 'k1' }),
    );
    expect(r.requestedPool).toBe('blue');
    expect(r.sharingKey).toBe('k1');
  });

  it('takes families from ipFamilies, primary first, with the family policy', () => {
    const r = request(svc({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' }));
    expect(r.families).toEqual([6, 4]);
    expect(r.familyPolicy).toBe('RequireDualStack');
  });

  it('falls back to the families of clusterIPs', () => {
    expect(request(svc({ clusterIPs: ['fd00::10'] })).families).toEqual([6]);
  });

  it('uses a canonical selector as backend key only for externalTrafficPolicy Local', () => {
    const sel = { b: '2', a: '1' };
    expect(request(svc({ selector: sel })).backendKey).toBe('');
    expect(request(svc({ selector: sel, externalTrafficPolicy: 'Local' })).backendKey).toBe('a=1,b=2');
  });

  it('rejects spec.loadBalancerIP together with the annotation, naming both', () => {
    const p = problem(svc({ loadBalancerIP: '10.0.0.1' }, { 'metallb.io/loadBalancerIPs': '10.0.0.2' }));
    expect(p.reason).toBe('invalid-request');
    expect(p.message).toBe(
      'service shop/web: metadata.annotations[metallb.io/loadBalancerIPs] "10.0.0.2" cannot be combined with spec.loadBalancerIP "10.0.0.1"; set only one of them',
    );
  });

  it('rejects an unparsable address', () => {
    expect(problem(svc({ loadBalancerIP: '10.0.0.300' })).message).toBe(
      'service shop/web: spec.loadBalancerIP "10.0.0.300" is not an IP address',
    );
    expect(problem(svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.1,nope' })).field).toBe(
      'metadata.annotations[metallb.io/loadBalancerIPs]',
    );
  });

  it('rejects more than two addresses and two of one family', () => {
    expect(problem(svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.1,fd00::1,10.0.0.2' })).message).toMatch(
      /more than two addresses/,
    );
    expect(problem(svc({}, { 'metallb.io/loadBalancerIPs': '10.0.0.1,10.0.0.2' })).message).toMatch(
      /same family/,
    );
  });
});

describe('deprecatedAnnotations', () => {
  it('names each metallb.universe.tf/ annotation with its metallb.io/ replacement', () => {
    const found = deprecatedAnnotations(
      svc(
        {},
        {
          'metallb.universe.tf/address-pool': 'p',
          'metallb.universe.tf/allow-shared-ip': 'k',
          'metallb.io/allow-shared-ip': 'k2',
          'metallb.io/loadBalancerIPs': '10.0.0.1',
        },
      ),
    );
    expect(found).toEqual([
      { name: 'metallb.universe.tf/address-pool', replacement: 'metallb.io/address-pool', ignored: false },
      {
        name: 'metallb.universe.tf/allow-shared-ip',
        replacement: 'metallb.io/allow-shared-ip',
        ignored: true,
      },
    ]);
    expect(found.map(deprecatedAnnotationMessage)).toEqual([
      'annotation metallb.universe.tf/address-pool is deprecated; use metallb.io/address-pool instead',
      'annotation metallb.universe.tf/allow-shared-ip is deprecated and ignored because metallb.io/allow-shared-ip is also set; remove it',
    ]);
  });

  it('finds nothing on a Service using only metallb.io/ spellings', () => {
    expect(deprecatedAnnotations(svc({}, { 'metallb.io/address-pool': 'p' }))).toEqual([]);
  });
});
