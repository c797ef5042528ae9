import yaml from 'js-yaml';
import { renderManifest } from './manifest.js';

interface PodDoc {
  kind: string;
  spec: {
    hostNetwork: boolean;
    containers: {
      command: string[];
      args: string[];
      image: string;
      securityContext: { capabilities: { add: string[] } };
      volumeMounts: { mountPath: string }[];
    }[];
    volumes: { hostPath: { path: string; type: string } }[];
  };
}

describe('the static Pod manifest', () => {
  it('runs the control-plane mode in the host network with the key from the host', () => {
    const pod = yaml.load(
      renderManifest({
        vip: '10.77.0.50',
        peers: 'cp1=10.77.0.11,cp2=10.77.0.12',
        interface: 'eth0',
        image: 'registry.example/beacon:v1',
        'key-file': '/etc/kubernetes/beacon/key',
      }),
    ) as PodDoc;
    expect(pod.kind).toBe('Pod');
    expect(pod.spec.hostNetwork).toBe(true);
    const c = pod.spec.containers[0]!;
    expect(c.image).toBe('registry.example/beacon:v1');
    expect(c.command).toEqual(['node', 'dist/speaker/main.js', 'control-plane']);
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--vip=10.77.0.50',
        '--peers=cp1=10.77.0.11,cp2=10.77.0.12',
        '--interface=eth0',
      ]),
    );
    expect(c.securityContext.capabilities.add).toEqual(['NET_RAW', 'NET_ADMIN', 'SYS_NICE']);
    expect(pod.spec.volumes[0]?.hostPath).toEqual({ path: '/etc/kubernetes/beacon/key', type: 'File' });
    expect(c.args).toContain(`--key-file=${c.volumeMounts[0]!.mountPath}`);
  });

  it('refuses a missing or bad VIP naming the flag', () => {
    expect(() => renderManifest({})).toThrow('--vip is required');
    expect(() => renderManifest({ vip: 'ten' })).toThrow('--vip "ten"');
  });
});
