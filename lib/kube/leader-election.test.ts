import { createLogger } from '../log.js';
import { LeaderElector, type LeaseClient, type LeaseRecord } from './leader-election.js';

const log = createLogger({ level: 'error', component: 'test', write: () => {} });

/** One Lease in memory with optimistic concurrency, like the API server. */
class MemoryLease implements LeaseClient {
  record: LeaseRecord | undefined;
  version = 0;
  async get() {
    return this.record === undefined
      ? undefined
      : { record: this.record, resourceVersion: String(this.version) };
  }
  async create(record: LeaseRecord) {
    if (this.record !== undefined) throw new Error('409 already exists');
    this.record = record;
    this.version++;
  }
  async update(record: LeaseRecord, rv: string) {
    if (rv !== String(this.version)) throw new Error('409 conflict');
    this.record = record;
    this.version++;
  }
}

function elector(lease: MemoryLease, identity: string, clock: { t: number }) {
  return new LeaderElector({
    client: lease,
    identity,
    now: () => clock.t,
    log,
    onStartedLeading: () => {},
    onStoppedLeading: () => {},
  });
}

describe('LeaderElector', () => {
  it('lets exactly one candidate hold the lease while it renews', async () => {
    const lease = new MemoryLease();
    const clock = { t: 1_000_000 };
    const a = elector(lease, 'a', clock);
    const b = elector(lease, 'b', clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    for (let i = 0; i < 10; i++) {
      clock.t += 1000;
      expect(await b.tryAcquireOrRenew()).toBe(false);
      expect(await a.tryAcquireOrRenew()).toBe(true);
    }
    expect(lease.record?.holderIdentity).toBe('a');
  });

  it('takes over once the holder has not renewed for the lease duration', async () => {
    const lease = new MemoryLease();
    const clock = { t: 1_000_000 };
    await elector(lease, 'a', clock).tryAcquireOrRenew();
    const b = elector(lease, 'b', clock);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.t += 3000;
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.t += 1000;
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(lease.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('hands over at once when the leader releases the lease on shutdown', async () => {
    const lease = new MemoryLease();
    const clock = { t: 1_000_000 };
    const b = elector(lease, 'b', clock);
    let sleeps = 0;
    const running = new LeaderElector({
      client: lease,
      identity: 'a',
      now: () => clock.t,
      sleep: async () => {
        sleeps++;
        await new Promise((r) => setImmediate(r));
      },
      log,
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    });
    const loop = running.run();
    while (sleeps === 0) await new Promise((r) => setImmediate(r));
    expect(running.isLeader).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    await running.stop();
    await loop;
    expect(lease.record?.holderIdentity).toBe('');
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });

  it('does not count the holder timestamps against the candidate clock', async () => {
    const lease = new MemoryLease();
    // The holder's clock is an hour behind.
    await elector(lease, 'a', { t: 1_000_000 }).tryAcquireOrRenew();
    const b = elector(lease, 'b', { t: 1_000_000 + 3_600_000 });
    expect(await b.tryAcquireOrRenew()).toBe(false);
  });
});
