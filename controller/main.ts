#!/usr/bin/env node
// beacon-controller: allocates IPs from IPAddressPools to LoadBalancer Services.
//
// Every replica watches Services, Namespaces and the configuration and serves /metrics; only
// the holder of the Lease metallb-system/beacon-controller allocates and writes. Caches are
// warm on the standby, so a takeover is one restore() and one pass over the Services.

import os from 'node:os';
import { runComponent } from '../lib/component.js';
import { commonFlags } from '../lib/component-flags.js';
import { ConfigMetrics, ConfigReporter } from '../lib/config/reporter.js';
import { ConfigSource } from '../lib/config/source.js';
import type { Config } from '../lib/config/types.js';
import { loadKubeConfig } from '../lib/kube/kubeconfig.js';
import { KubeClient } from '../lib/kube/client.js';
import { EventRecorder, eventSink } from '../lib/kube/events.js';
import { LeaderElector } from '../lib/kube/leader-election.js';
import { Reflector } from '../lib/kube/reflector.js';
import type { KubeObject } from '../lib/kube/transport.js';
import { Allocator } from './allocator/allocator.js';
import type { PoolUsage } from './allocator/types.js';
import { leaseClient, serviceWriter } from './kube-edges.js';
import { ControllerMetrics } from './metrics.js';
import { MemberlistSecretKeeper } from './memberlist-secret.js';
import { PoolStatusSync, type PoolObjectStatus } from './pool-status.js';
import { WorkQueue } from './queue.js';
import { projectService, type NamespaceObject, type ServiceObject } from '../lib/service/service-object.js';
import { ServiceReconciler } from './service-reconciler.js';

const leaseName = 'beacon-controller';

await runComponent({
  program: 'beacon-controller',
  summary: 'Allocates external IPs from metallb.io IPAddressPools to Services of type LoadBalancer.',
  flags: commonFlags,
  async start({ flags, log, registry, shutdown, setReady }) {
    const kc = loadKubeConfig(flags.kubeconfig);
    const namespace = flags.namespace ?? 'metallb-system';
    const lbClass = flags['lb-class'] || undefined;
    log.info('using API server', { server: kc.getCurrentCluster()?.server, lbClass });

    const metrics = new ControllerMetrics(registry);
    const configMetrics = new ConfigMetrics(registry);
    const api = new KubeClient(kc, {
      onUpdate: () => metrics.updates.inc(),
      onUpdateError: () => metrics.updateErrors.inc(),
    });
    const transport = api;
    const onError = () => metrics.updateErrors.inc();
    const services = new Reflector<ServiceObject>({
      transport,
      resource: { group: '', version: 'v1', plural: 'services' },
      log,
      onError,
      project: projectService,
    });
    const namespaces = new Reflector<NamespaceObject>({
      transport,
      resource: { group: '', version: 'v1', plural: 'namespaces' },
      log,
      onError,
    });
    const config = new ConfigSource({ transport, namespace, log, secrets: false, onError });
    const recorder = new EventRecorder({
      sink: eventSink(api),
      component: 'beacon-controller',
      now: Date.now,
      log,
      // Events trail the status writes: one at a time while Services wait for their addresses.
      maxInFlight: () => (queue.length > 0 ? 1 : 8),
      maxQueued: 50_000,
    });
    const reporter = new ConfigReporter(api, log, (target, type, reason, message) =>
      recorder.emit(target, type, reason, message),
    );

    let leading = false;
    const allocator = new Allocator();
    const queue = new WorkQueue({
      handler: (key) => reconciler.reconcile(key),
      // Status writes in flight: the API server's write rate keeps rising up to about 64
      // parallel requests (make bench, controller: the raw baseline), so a burst of new
      // Services is written at its pace rather than ours.
      concurrency: 64,
      onRetry: (key, err, delayMs) =>
        log.warn('reconcile failed, retrying', {
          service: key,
          error: err instanceof Error ? err.message : String(err),
          retryMs: delayMs,
        }),
    });

    const poolStatus = new PoolStatusSync({
      api,
      namespace,
      log,
      usage: () => {
        const usage = new Map<string, PoolUsage>();
        for (const name of allocator.poolNames()) usage.set(name, allocator.usage(name)!);
        return usage;
      },
      pools: () => config.objects('pools') as (KubeObject & { status?: PoolObjectStatus })[],
      leading: () => leading,
      onUsage: (usage) => {
        metrics.setPools(usage);
        metrics.setPending(reconciler.pendingByReason());
      },
    });
    const schedulePoolSync = () => poolStatus.schedule();

    const reconciler = new ServiceReconciler({
      services: services.cache,
      namespaces: namespaces.cache,
      allocator,
      ...(lbClass !== undefined ? { lbClass } : {}),
      writer: serviceWriter(api),
      recordEvent: (svc, e) =>
        recorder.record(
          {
            apiVersion: 'v1',
            kind: 'Service',
            namespace: svc.metadata?.namespace ?? '',
            name: svc.metadata?.name ?? '',
            ...(svc.metadata?.uid ? { uid: svc.metadata.uid } : {}),
          },
          e.type,
          e.reason,
          e.message,
        ),
      requeue: (keys) => queue.addAll(keys),
      now: Date.now,
      log,
      onAllocationsChanged: schedulePoolSync,
      onPendingChanged: () => metrics.setPending(reconciler.pendingByReason()),
      observeAllocation: (s) => metrics.allocationSeconds.observe(s),
    });

    const report = (c: Config) =>
      reporter
        .report(c, config.objectsByKind())
        .catch((err: Error) => log.warn('could not report configuration', { error: err.message }));

    services.onChange((keys) => {
      if (leading) queue.addAll(keys);
    });
    namespaces.onChange((names) => {
      if (!leading) return;
      const changed = new Set(names);
      queue.addAll(services.cache.keys().filter((k) => changed.has(k.slice(0, k.indexOf('/')))));
    });
    config.onChange((c) => {
      configMetrics.update(c);
      if (!leading) return;
      queue.addAll(reconciler.setPools([...c.pools.values()]));
      schedulePoolSync();
      void report(c);
    });

    // The speakers' membership key (MetalLB's memberlist Secret), created when missing: by the
    // leader, like every other write.
    const memberlistKeeper = new MemberlistSecretKeeper({ api, namespace, log });
    shutdown.add('memberlist secret', () => memberlistKeeper.stop());

    const startLeading = () => {
      const c = config.current();
      if (c === undefined) throw new Error('leading before the configuration was loaded');
      leading = true;
      const started = Date.now();
      reconciler.setPools([...c.pools.values()]);
      const restored = reconciler.restore();
      const keys = services.cache.keys().sort();
      queue.addAll(keys);
      void queue
        .idle()
        .then(() =>
          log.info('all services reconciled', { services: keys.length, restored, ms: Date.now() - started }),
        );
      schedulePoolSync();
      void report(c);
      memberlistKeeper.start();
    };

    services.start();
    namespaces.start();
    config.start();
    shutdown.add('watches', () => {
      services.stop();
      namespaces.stop();
      config.stop();
    });
    await Promise.all([services.synced, namespaces.synced, config.synced]);
    configMetrics.update(config.current()!);
    log.info('caches synced', { services: services.cache.size, namespaces: namespaces.cache.size });
    setReady(true);

    // In a Pod the identity is the Pod's name: a restarted container takes its own Lease back at
    // once instead of waiting it out. Elsewhere (several on one host) the PID tells them apart.
    const identity = process.env.POD_NAME || `${os.hostname()}_${process.pid}`;
    const elector = new LeaderElector({
      client: leaseClient(api, namespace, leaseName),
      identity,
      now: Date.now,
      log,
      onStartedLeading: startLeading,
      onStoppedLeading: () => {
        // Another replica may already be writing: stop at once, as client-go's users do.
        log.error('lost the lease, exiting');
        process.exit(1);
      },
    });
    void elector.run();
    shutdown.add('leader election', async () => {
      leading = false;
      queue.stop();
      await elector.stop();
    });
  },
});
