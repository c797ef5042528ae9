import { IPVS_INTERFACE, readArpIgnoreAll, StrictArpCheck, strictArpProblem } from './strict-arp.js';

describe('strictARP check (kube-proxy in IPVS mode)', () => {
  it('warns only when kube-ipvs0 exists and arp_ignore lets every interface answer', () => {
    expect(strictArpProblem(['lo', 'eth0', IPVS_INTERFACE], 0)).toMatch(
      /kube-ipvs0 exists .* net\.ipv4\.conf\.all\.arp_ignore is 0: .* strictARP: true/,
    );
    expect(strictArpProblem(['lo', 'eth0', IPVS_INTERFACE], 1)).toBeUndefined();
    expect(strictArpProblem(['lo', 'eth0', IPVS_INTERFACE], 2)).toBeUndefined();
    expect(strictArpProblem(['lo', 'eth0'], 0)).toBeUndefined();
    expect(strictArpProblem(['lo', 'eth0', IPVS_INTERFACE], undefined)).toBeUndefined();
  });

  it('reads the sysctl, and an unreadable or odd value as unknown', () => {
    expect(readArpIgnoreAll(() => '1\n')).toBe(1);
    expect(readArpIgnoreAll(() => 'x')).toBeUndefined();
    expect(
      readArpIgnoreAll(() => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });

  it('logs once, and reads the sysctl only once IPVS is seen', () => {
    const warnings: string[] = [];
    let reads = 0;
    const check = new StrictArpCheck(
      (m) => warnings.push(m),
      () => {
        reads++;
        return 0;
      },
    );
    check.check(['eth0']);
    expect(reads).toBe(0);
    check.check(['eth0', IPVS_INTERFACE]);
    check.check(['eth0', IPVS_INTERFACE]);
    expect(warnings).toHaveLength(1);
    expect(reads).toBe(1);
  });
});
