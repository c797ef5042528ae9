import { createLogger } from '../log.js';
import { EventRecorder, type EventSink } from './events.js';

const log = createLogger({ level: 'error', component: 'test', write: () => {} });
const target = { apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'web', uid: 'u1' };

function fakeSink(failCreate = false) {
  const calls: { op: string; namespace: string; name?: string; body: Record<string, unknown> }[] = [];
  const sink: EventSink = {
    create: async (namespace, body) => {
      if (failCreate) throw new Error('forbidden');
      calls.push({ op: 'create', namespace, body });
    },
    patch: async (namespace, name, body) => {
      calls.push({ op: 'patch', namespace, name, body });
    },
  };
  return { sink, calls };
}

describe('EventRecorder', () => {
  it('creates an Event naming the object, type, reason and message', async () => {
    const { sink, calls } = fakeSink();
    const r = new EventRecorder({
      sink,
      component: 'beacon-controller',
      now: () => Date.UTC(2025, 0, 1),
      log,
    });
    await r.emit(target, 'Warning', 'AllocationFailed', '10.9.9.9 is not in any IPAddressPool');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toMatchObject({
      involvedObject: { kind: 'Service', namespace: 'shop', name: 'web', uid: 'u1' },
      type: 'Warning',
      reason: 'AllocationFailed',
      message: '10.9.9.9 is not in any IPAddressPool',
      count: 1,
      firstTimestamp: '2025-01-01T00:00:00Z',
      source: { component: 'beacon-controller' },
    });
  });

  it('folds a repeated identical Event into the first by patching its count', async () => {
    const { sink, calls } = fakeSink();
    let now = Date.UTC(2025, 0, 1);
    const r = new EventRecorder({ sink, component: 'c', now: () => now, log });
    await r.emit(target, 'Warning', 'AllocationFailed', 'm');
    now += 5000;
    await r.emit(target, 'Warning', 'AllocationFailed', 'm');
    await r.emit(target, 'Warning', 'AllocationFailed', 'other');
    const created = calls[0]!.body.metadata as { name: string };
    expect(calls.map((c) => c.op)).toEqual(['create', 'patch', 'create']);
    expect(calls[1]).toEqual({
      op: 'patch',
      namespace: 'shop',
      name: created.name,
      body: { count: 2, lastTimestamp: '2025-01-01T00:00:05Z' },
    });
  });

  it('survives a failed write and creates the Event afresh next time', async () => {
    const failing = fakeSink(true);
    const r = new EventRecorder({ sink: failing.sink, component: 'c', now: () => 0, log });
    await expect(r.emit(target, 'Normal', 'IPAllocated', 'm')).resolves.toBeUndefined();
    await r.emit(target, 'Normal', 'IPAllocated', 'm');
    expect(failing.calls).toEqual([]);
  });

  it('sends a few Events at a time, in the order recorded, and drops beyond the queue', async () => {
    const started: string[] = [];
    const finish: (() => void)[] = [];
    const sink: EventSink = {
      create: (_ns, body) => {
        started.push(body.message as string);
        return new Promise<void>((resolve) => finish.push(resolve));
      },
      patch: async () => {},
    };
    const r = new EventRecorder({ sink, component: 'c', now: () => 0, log, maxInFlight: 2, maxQueued: 3 });
    const done = ['a', 'b', 'c', 'd', 'e', 'f'].map((m) => r.emit(target, 'Normal', 'IPAllocated', m));
    await new Promise((resolve) => setImmediate(resolve));
    // Two in flight, three waiting, the sixth dropped.
    expect(started).toEqual(['a', 'b']);
    expect(r.dropped).toBe(1);
    while (finish.length > 0) {
      finish.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(done);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it("never lets a repeat's count patch overtake the create it aggregates onto", async () => {
    const ops: string[] = [];
    let created: () => void = () => {};
    const sink: EventSink = {
      create: () =>
        new Promise<void>((resolve) => {
          created = () => {
            ops.push('create');
            resolve();
          };
        }),
      patch: async (_ns, _name, body) => {
        ops.push(`patch ${String(body.count)}`);
      },
    };
    const r = new EventRecorder({ sink, component: 'c', now: () => 0, log });
    const first = r.emit(target, 'Warning', 'AllocationFailed', 'm');
    const second = r.emit(target, 'Warning', 'AllocationFailed', 'm');
    await new Promise((resolve) => setImmediate(resolve));
    expect(ops).toEqual([]);
    created();
    await Promise.all([first, second]);
    expect(ops).toEqual(['create', 'patch 2']);
  });

  it('follows a limit that changes: one at a time while busy, more once not', async () => {
    const finish: (() => void)[] = [];
    const sink: EventSink = {
      create: () => new Promise<void>((resolve) => finish.push(resolve)),
      patch: async () => {},
    };
    let busy = true;
    const r = new EventRecorder({
      sink,
      component: 'c',
      now: () => 0,
      log,
      maxInFlight: () => (busy ? 1 : 3),
    });
    const done = ['a', 'b', 'c', 'd', 'e'].map((m) => r.emit(target, 'Normal', 'IPAllocated', m));
    await new Promise((resolve) => setImmediate(resolve));
    expect(finish).toHaveLength(1);
    busy = false;
    finish.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(finish).toHaveLength(3);
    while (finish.length > 0) {
      finish.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(done);
  });
});
