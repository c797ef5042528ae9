// Layer 2 graceful restart: on SIGTERM, is this speaker about to be replaced on the same node?
//
// A rolling update of the speaker DaemonSet (a new image, `helm upgrade`, `kubectl rollout
// restart`) stops each node's speaker and starts a new one there a few seconds later. Handing
// the node's IPs over at the SIGTERM and taking them back when the new speaker is in moves
// each IP twice, and every move resets the connections in flight through the old node
// (kube-proxy's connection tracking is per node). The node itself keeps forwarding all the
// while: its kube-proxy does not restart. So in that case the speaker tells its peers it is
// restarting (membership/member.ts `leave`): they keep it the owner of its IPs, unanswered,
// for the hold, and the new speaker takes them up without any IP moving. Clients that have
// the node's MAC keep sending to it; only a new ARP/NDP resolution waits for the new speaker.
//
// Any other SIGTERM (the Pod deleted by hand, the node shutting down or being drained, Beacon
// uninstalled) hands over at once, as MetalLB does: nothing says a speaker comes back there.
// The DaemonSet controller's own marks tell the two apart: it labels each Pod with the template
// generation it was made from (`pod-template-generation`) and keeps the current one in the
// DaemonSet's annotation `deprecated.daemonset.template.generation`; a Pod whose generation
// differs is out of date, the one a rolling update replaces (the controller's IsPodUpdated,
// kubernetes pkg/controller/daemon/util). A Pod deleted by hand is of the current generation.

import type { ApiRequester } from '../../lib/kube/api-request.js';
import type { Logger } from '../../lib/log.js';
import { resourcePath } from '../../lib/kube/reflector.js';

/** What the decision reads of the speaker's Pod and of its DaemonSet. */
export interface PodFacts {
  readonly metadata?: {
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly {
      readonly kind?: string;
      readonly name?: string;
      readonly controller?: boolean;
    }[];
  };
}

export interface DaemonSetFacts {
  readonly metadata?: {
    readonly deletionTimestamp?: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
}

const podGenerationLabel = 'pod-template-generation';
const daemonSetGenerationAnnotation = 'deprecated.daemonset.template.generation';

export type RestartVerdict =
  | { readonly restart: true; readonly from: string; readonly to: string }
  | { readonly restart: false; readonly why: string };

/** The DaemonSet that controls the Pod, if any. */
export function owningDaemonSet(pod: PodFacts): string | undefined {
  return pod.metadata?.ownerReferences?.find((r) => r.kind === 'DaemonSet' && r.controller === true)?.name;
}

/** Whether the DaemonSet is replacing this Pod with one of a newer template (a rolling update). */
export function rolloutReplaces(pod: PodFacts, daemonSet: DaemonSetFacts): RestartVerdict {
  if (daemonSet.metadata?.deletionTimestamp !== undefined)
    return { restart: false, why: 'the DaemonSet is being deleted' };
  const from = pod.metadata?.labels?.[podGenerationLabel];
  const to = daemonSet.metadata?.annotations?.[daemonSetGenerationAnnotation];
  if (from === undefined || to === undefined)
    return {
      restart: false,
      why: `no template generation on the Pod (${podGenerationLabel}) or the DaemonSet`,
    };
  if (from === to)
    return { restart: false, why: `the Pod is of the DaemonSet's current template generation ${to}` };
  return { restart: true, from, to };
}

export interface RestartHoldOptions {
  /** The hold when the speaker is being replaced (--layer2-restart-hold); 0 disables it. */
  readonly holdMs: number;
  /** This speaker's Pod (POD_NAME); undefined outside a Pod: never a restart. */
  readonly pod: string | undefined;
  readonly namespace: string;
  readonly api: Pick<ApiRequester, 'request'>;
  readonly log: Logger;
  /** The API gets this long to answer; after it, the speaker hands over as usual. */
  readonly timeoutMs?: number;
}

/**
 * How long peers should keep this node the owner of its IPs after this SIGTERM: `holdMs` when
 * a rollout replaces the speaker, else 0. Never rejects: any doubt (no Pod, API slow or
 * refusing) is a plain handover.
 */
export async function restartHoldOnStop(o: RestartHoldOptions): Promise<number> {
  if (o.holdMs <= 0 || o.pod === undefined) return 0;
  const namespace = encodeURIComponent(o.namespace);
  const get = (group: string, plural: string, name: string): Promise<unknown> =>
    o.api.request(
      'GET',
      `${resourcePath({ group, version: 'v1', plural, namespace })}/${encodeURIComponent(name)}`,
    );
  const pod = o.pod;
  const decide = async (): Promise<RestartVerdict> => {
    const facts = (await get('', 'pods', pod)) as PodFacts;
    const ds = owningDaemonSet(facts);
    if (ds === undefined) return { restart: false, why: 'the Pod has no DaemonSet' };
    return rolloutReplaces(facts, (await get('apps', 'daemonsets', ds)) as DaemonSetFacts);
  };
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = o.timeoutMs ?? 1000;
  const timeout = new Promise<RestartVerdict>((resolve) => {
    timer = setTimeout(
      () => resolve({ restart: false, why: `the API server did not answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    const verdict = await Promise.race([decide(), timeout]);
    if (verdict.restart) {
      o.log.info(
        'layer 2: the DaemonSet is replacing this speaker; peers keep its IPs here while it restarts',
        {
          holdMs: o.holdMs,
          fromGeneration: verdict.from,
          toGeneration: verdict.to,
        },
      );
      return o.holdMs;
    }
    o.log.info('layer 2: not a rolling restart, handing over', { why: verdict.why });
    return 0;
  } catch (err) {
    o.log.warn('layer 2: could not tell whether this is a rolling restart; handing over', { error: err });
    return 0;
  } finally {
    clearTimeout(timer);
  }
}
