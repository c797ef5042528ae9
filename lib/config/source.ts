// Watches every configuration kind in the namespace (and, for the speaker, the Secrets peers
// use for passwords) and rebuilds the one Config whenever any of them changes. Rebuilds are
// coalesced: a burst of changes (kubectl apply -f dir/) produces one new Config.

import { Reflector, type ResourceRef } from '../kube/reflector.js';
import type { KubeObject, Transport } from '../kube/transport.js';
import type { Logger } from '../log.js';
import { buildConfig, type ConfigInput } from './build.js';
import type { Config, ConfigKind } from './types.js';

type Part = Exclude<keyof ConfigInput, 'namespace'>;

const resources: Record<Exclude<Part, 'secrets'>, Omit<ResourceRef, 'namespace'>> = {
  pools: { group: 'metallb.io', version: 'v1beta1', plural: 'ipaddresspools' },
  l2Advertisements: { group: 'metallb.io', version: 'v1beta1', plural: 'l2advertisements' },
  bgpAdvertisements: { group: 'metallb.io', version: 'v1beta1', plural: 'bgpadvertisements' },
  peers: { group: 'metallb.io', version: 'v1beta2', plural: 'bgppeers' },
  communities: { group: 'metallb.io', version: 'v1beta1', plural: 'communities' },
  bfdProfiles: { group: 'metallb.io', version: 'v1beta1', plural: 'bfdprofiles' },
};

export interface ConfigSourceOptions {
  transport: Transport;
  namespace: string;
  log: Logger;
  /** Watch Secrets too (the speaker, for BGP passwords); the controller may not read them. */
  secrets: boolean;
  /** How long to wait for more changes before rebuilding. */
  coalesceMs?: number;
  onError?: (err: Error) => void;
}

export class ConfigSource {
  private readonly reflectors = new Map<Part, Reflector<KubeObject>>();
  private readonly listeners = new Set<(c: Config) => void>();
  /** Per object, what the Config is built from (see configInput), to skip irrelevant changes. */
  private readonly inputs = new Map<string, string>();
  private config: Config | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves once every kind has been listed and the first Config built. */
  readonly synced: Promise<void>;
  /** Number of Configs built; for metrics and tests. */
  builds = 0;

  constructor(private readonly opts: ConfigSourceOptions) {
    const parts = Object.entries(resources) as [Part, Omit<ResourceRef, 'namespace'>][];
    if (opts.secrets) parts.push(['secrets', { group: '', version: 'v1', plural: 'secrets' }]);
    for (const [part, res] of parts) {
      const r = new Reflector<KubeObject>({
        transport: opts.transport,
        resource: { ...res, namespace: opts.namespace },
        log: opts.log,
        ...(opts.onError ? { onError: opts.onError } : {}),
      });
      r.onChange((keys) => {
        if (this.inputChanged(part, r, keys)) this.schedule();
      });
      this.reflectors.set(part, r);
    }
    this.synced = Promise.all([...this.reflectors.values()].map((r) => r.synced)).then(() => {
      this.rebuild();
    });
  }

  start(): void {
    for (const r of this.reflectors.values()) r.start();
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const r of this.reflectors.values()) r.stop();
  }

  /** The current Config; undefined until synced. */
  current(): Config | undefined {
    return this.config;
  }

  /** Objects of one kind as last seen (raw), e.g. to write their status. */
  objects(part: Part): KubeObject[] {
    return this.reflectors.get(part)?.cache.list() ?? [];
  }

  /** Every configuration object as last seen, by kind (what ConfigReporter.report takes). */
  objectsByKind(): Record<ConfigKind, KubeObject[]> {
    return {
      IPAddressPool: this.objects('pools'),
      L2Advertisement: this.objects('l2Advertisements'),
      BGPAdvertisement: this.objects('bgpAdvertisements'),
      BGPPeer: this.objects('peers'),
      Community: this.objects('communities'),
      BFDProfile: this.objects('bfdProfiles'),
    };
  }

  onChange(listener: (c: Config) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * True when a changed object differs in what the Config is built from. Status writes
   * (conditions from the reporter, pool usage from the controller) change resourceVersion
   * but not the Config: rebuilding on them would make every pool status write re-run the
   * controller's pool update for all Services.
   */
  private inputChanged(part: Part, r: Reflector<KubeObject>, keys: string[]): boolean {
    let changed = false;
    for (const key of keys) {
      const id = `${part}/${key}`;
      const obj = r.cache.get(key);
      const input = obj === undefined ? undefined : configInput(obj);
      if (this.inputs.get(id) === input) continue;
      changed = true;
      if (input === undefined) this.inputs.delete(id);
      else this.inputs.set(id, input);
    }
    return changed;
  }

  private schedule(): void {
    if (!this.config) return; // the first build happens once everything is synced
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.rebuild(), this.opts.coalesceMs ?? 50);
  }

  private rebuild(): void {
    const list = (p: Part) => this.reflectors.get(p)?.cache.list() ?? [];
    this.config = buildConfig({
      namespace: this.opts.namespace,
      pools: list('pools'),
      l2Advertisements: list('l2Advertisements'),
      bgpAdvertisements: list('bgpAdvertisements'),
      peers: list('peers'),
      communities: list('communities'),
      bfdProfiles: list('bfdProfiles'),
      ...(this.opts.secrets ? { secrets: list('secrets') } : {}),
    });
    this.builds++;
    const errors = this.config.problems.filter((p) => p.severity === 'error').length;
    this.opts.log.info('configuration loaded', {
      pools: this.config.pools.size,
      l2Advertisements: this.config.l2Advertisements.length,
      bgpAdvertisements: this.config.bgpAdvertisements.length,
      peers: this.config.peers.size,
      problems: this.config.problems.length,
      invalidObjects: errors,
    });
    for (const l of this.listeners) l(this.config);
  }
}

/** The parts of an object buildConfig reads: spec (Secret type and data), labels, creation order. */
function configInput(obj: KubeObject): string {
  const o = obj as KubeObject & { spec?: unknown; type?: unknown; data?: unknown; stringData?: unknown };
  const m = obj.metadata as { labels?: unknown; creationTimestamp?: unknown } | undefined;
  return JSON.stringify([o.spec, o.type, o.data, o.stringData, m?.labels, m?.creationTimestamp]);
}
