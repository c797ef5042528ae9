// Reports configuration problems where users look (ARCHITECTURE: no admission webhook, so a
// cross-object problem is accepted by the API server and reported afterwards):
//   - a "Valid" condition in the object's status (written only when it changes),
//   - a Warning Event "InvalidConfiguration" on the object when a problem first appears,
//   - metrics: metallb_k8s_client_config_stale_bool, _config_loaded_bool, and
//     beacon_config_invalid_objects{kind}.
// Only the controller's leader writes status and Events; every process sets the metrics.

import type { ApiRequester } from '../kube/api-request.js';
import { Gauge, type Registry } from 'prom-client';
import type { EventTarget, EventType } from '../kube/events.js';
import type { KubeObject } from '../kube/transport.js';
import type { Logger } from '../log.js';
import { desiredConditions, invalidObjectCounts, validCondition } from './conditions.js';
import { configKinds, problemText, type Config, type ConfigKind, type ObjectRef } from './types.js';

/** Records an Event on a configuration object: EventRecorder.emit fits as it is. */
export type RecordEvent = (
  target: EventTarget,
  type: EventType,
  reason: string,
  message: string,
) => Promise<void>;

const kindInfo: Record<ConfigKind, { version: string; plural: string }> = {
  IPAddressPool: { version: 'v1beta1', plural: 'ipaddresspools' },
  L2Advertisement: { version: 'v1beta1', plural: 'l2advertisements' },
  BGPAdvertisement: { version: 'v1beta1', plural: 'bgpadvertisements' },
  BGPPeer: { version: 'v1beta2', plural: 'bgppeers' },
  Community: { version: 'v1beta1', plural: 'communities' },
  BFDProfile: { version: 'v1beta1', plural: 'bfdprofiles' },
};

export class ConfigMetrics {
  private readonly stale: Gauge;
  private readonly loaded: Gauge;
  private readonly invalid: Gauge<'kind'>;

  constructor(registry: Registry) {
    this.stale = new Gauge({
      name: 'metallb_k8s_client_config_stale_bool',
      help: '1 when some configuration object is invalid and left out of the configuration in use',
      registers: [registry],
    });
    this.loaded = new Gauge({
      name: 'metallb_k8s_client_config_loaded_bool',
      help: '1 once the configuration has been loaded',
      registers: [registry],
    });
    this.invalid = new Gauge({
      name: 'beacon_config_invalid_objects',
      help: 'Configuration objects left out because of a problem, by kind',
      labelNames: ['kind'],
      registers: [registry],
    });
    for (const kind of configKinds) this.invalid.set({ kind }, 0);
  }

  update(config: Config): void {
    const counts = invalidObjectCounts(config);
    this.loaded.set(1);
    this.stale.set([...counts.values()].some((n) => n > 0) ? 1 : 0);
    for (const kind of configKinds) this.invalid.set({ kind }, counts.get(kind) ?? 0);
  }
}

interface StatusCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export class ConfigReporter {
  /** Problem texts already announced by an Event, per object, so Events fire on change only. */
  private readonly announced = new Map<string, string>();

  constructor(
    private readonly api: ApiRequester,
    private readonly log: Logger,
    private readonly recordEvent: RecordEvent,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Brings every object's condition (and Events) in line with `config`. */
  async report(config: Config, objects: Readonly<Record<ConfigKind, readonly KubeObject[]>>): Promise<void> {
    const byRef = new Map<string, KubeObject>();
    const refs: ObjectRef[] = [];
    for (const kind of configKinds)
      for (const o of objects[kind]) {
        const ref = { kind, namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' };
        refs.push(ref);
        byRef.set(`${kind}/${ref.namespace}/${ref.name}`, o);
      }
    for (const want of desiredConditions(config, refs)) {
      const k = `${want.ref.kind}/${want.ref.namespace}/${want.ref.name}`;
      const obj = byRef.get(k) as
        | (KubeObject & {
            status?: { conditions?: StatusCondition[] };
            metadata?: { generation?: number; uid?: string };
          })
        | undefined;
      if (!obj) continue;
      const kind = want.ref.kind as ConfigKind;
      const current = obj.status?.conditions?.find((c) => c.type === validCondition);
      const generation = (obj.metadata as { generation?: number } | undefined)?.generation;
      if (
        current?.status !== want.status ||
        current.reason !== want.reason ||
        current.message !== want.message ||
        (generation !== undefined && current.observedGeneration !== generation)
      ) {
        const condition: StatusCondition = {
          type: validCondition,
          status: want.status,
          reason: want.reason,
          message: want.message,
          lastTransitionTime:
            current?.status === want.status && current.lastTransitionTime
              ? current.lastTransitionTime
              : this.now()
                  .toISOString()
                  .replace(/\.\d+Z$/, 'Z'),
          ...(generation !== undefined ? { observedGeneration: generation } : {}),
        };
        const others = (obj.status?.conditions ?? []).filter((c) => c.type !== validCondition);
        try {
          const seg = encodeURIComponent;
          await this.api.patch(
            `/apis/metallb.io/${kindInfo[kind].version}/namespaces/${seg(want.ref.namespace)}/${kindInfo[kind].plural}/${seg(want.ref.name)}/status`,
            'merge',
            { status: { conditions: [...others, condition] } },
          );
        } catch (err) {
          this.log.warn('could not write configuration status', { object: k, error: err });
        }
      }
      const errors = want.problems
        .filter((p) => p.severity === 'error')
        .map(problemText)
        .join('; ');
      if (errors && this.announced.get(k) !== errors) {
        this.announced.set(k, errors);
        const uid = (obj.metadata as { uid?: string } | undefined)?.uid;
        await this.recordEvent(
          { ...want.ref, apiVersion: `metallb.io/${kindInfo[kind].version}`, ...(uid ? { uid } : {}) },
          'Warning',
          'InvalidConfiguration',
          errors,
        ).catch((err: unknown) => this.log.warn('could not record event', { object: k, error: err }));
        this.log.warn('invalid configuration', { object: k, problems: errors });
      }
      if (!errors) this.announced.delete(k);
    }
  }
}
