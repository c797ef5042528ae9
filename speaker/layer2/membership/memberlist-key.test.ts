import { memberlistKey } from './memberlist-key.js';

const secret = (name: string, data?: Record<string, string>) => ({
  metadata: { name },
  ...(data ? { data } : {}),
});

describe('the membership key from Secret memberlist', () => {
  it('decodes data.secretkey', () => {
    const key = Buffer.alloc(16, 9);
    expect(
      memberlistKey(
        [secret('bgp-auth'), secret('memberlist', { secretkey: key.toString('base64') })],
        'metallb-system',
      ),
    ).toEqual({
      ok: true,
      key,
    });
  });

  it('says which Secret is missing, so the speaker can log why it announces nothing', () => {
    expect(memberlistKey([secret('bgp-auth')], 'metallb-system')).toEqual({
      ok: false,
      reason: 'Secret metallb-system/memberlist does not exist (beacon-controller creates it)',
    });
    expect(memberlistKey([secret('memberlist', {})], 'ns')).toEqual({
      ok: false,
      reason: 'Secret ns/memberlist has no data.secretkey',
    });
  });

  it('refuses a key shorter than 128 bits', () => {
    const r = memberlistKey([secret('memberlist', { secretkey: Buffer.alloc(8).toString('base64') })], 'ns');
    expect(r).toEqual({
      ok: false,
      reason: 'Secret ns/memberlist data.secretkey: 8 bytes, at least 16 needed',
    });
  });
});
