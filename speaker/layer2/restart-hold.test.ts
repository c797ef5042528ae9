import { recordingLogger, type LogLine } from '../../test/support/recording-log.js';
import { restartHoldFlag } from './mode.js';
import { restartHoldOnStop, rolloutReplaces, type DaemonSetFacts, type PodFacts } from './restart-hold.js';

// As the DaemonSet controller writes them (a Pod of template generation 2, the DaemonSet at 3
// after a `kubectl rollout restart`).
const pod = (generation: string | undefined, owner = 'speaker'): PodFacts => ({
  metadata: {
    labels: {
      'controller-revision-hash': '74c5b67777',
      ...(generation !== undefined ? { 'pod-template-generation': generation } : {}),
    },
    ownerReferences: [{ kind: 'DaemonSet', name: owner, controller: true }],
  },
});
const daemonSet = (generation: string, deleting = false): DaemonSetFacts => ({
  metadata: {
    annotations: { 'deprecated.daemonset.template.generation': generation },
    ...(deleting ? { deletionTimestamp: '2026-12-07T00:00:00Z' } : {}),
  },
});

/** An API server answering GETs from a table (path → object), or failing. */
function api(objects: Record<string, unknown>, delayMs = 0) {
  const paths: string[] = [];
  return {
    paths,
    request: async (method: string, path: string): Promise<unknown> => {
      paths.push(`${method} ${path}`);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (!(path in objects)) throw new Error(`404 ${path}`);
      return objects[path];
    },
  };
}

const podPath = '/api/v1/namespaces/metallb-system/pods/speaker-x1';
const dsPath = '/apis/apps/v1/namespaces/metallb-system/daemonsets/speaker';

describe('layer 2 restart hold', () => {
  it('a Pod of an older template generation than its DaemonSet is being replaced by a rollout', () => {
    expect(rolloutReplaces(pod('2'), daemonSet('3'))).toEqual({ restart: true, from: '2', to: '3' });
  });

  it('a Pod of the current generation (deleted by hand, node shutdown), a DaemonSet being deleted, or no generation: no restart', () => {
    expect(rolloutReplaces(pod('3'), daemonSet('3'))).toMatchObject({
      restart: false,
      why: /current template generation 3/,
    });
    expect(rolloutReplaces(pod('2'), daemonSet('3', true))).toMatchObject({
      restart: false,
      why: /being deleted/,
    });
    expect(rolloutReplaces(pod(undefined), daemonSet('3'))).toMatchObject({
      restart: false,
      why: /no template generation/,
    });
  });

  it('on SIGTERM during a rollout the hold is the flag value, read from the Pod and its DaemonSet', async () => {
    const lines: LogLine[] = [];
    const server = api({ [podPath]: pod('2'), [dsPath]: daemonSet('3') });
    const hold = await restartHoldOnStop({
      holdMs: 10_000,
      pod: 'speaker-x1',
      namespace: 'metallb-system',
      api: server,
      log: recordingLogger(lines),
    });
    expect(hold).toBe(10_000);
    expect(server.paths).toEqual([`GET ${podPath}`, `GET ${dsPath}`]);
    expect(lines[0]).toMatchObject({ level: 'info', fields: { fromGeneration: '2', toGeneration: '3' } });
  });

  it('hands over at once when it is not a rollout, outside a Pod, when disabled, or when the API fails or is slow', async () => {
    const lines: LogLine[] = [];
    const log = recordingLogger(lines);
    const base = { holdMs: 10_000, pod: 'speaker-x1', namespace: 'metallb-system', log };
    const current = api({ [podPath]: pod('3'), [dsPath]: daemonSet('3') });
    expect(await restartHoldOnStop({ ...base, api: current })).toBe(0);
    expect(await restartHoldOnStop({ ...base, pod: undefined, api: current })).toBe(0);
    expect(await restartHoldOnStop({ ...base, holdMs: 0, api: current })).toBe(0);
    expect(await restartHoldOnStop({ ...base, api: api({ [podPath]: pod('2') }) })).toBe(0);
    const slow = api({ [podPath]: pod('2'), [dsPath]: daemonSet('3') }, 200);
    expect(await restartHoldOnStop({ ...base, api: slow, timeoutMs: 50 })).toBe(0);
    expect(lines.map((l) => `${l.level} ${String(l.fields.why ?? l.fields.error)}`)).toEqual([
      "info the Pod is of the DaemonSet's current template generation 3",
      `warn Error: 404 ${dsPath}`,
      'info the API server did not answer within 50 ms',
    ]);
  });

  it('--layer2-restart-hold takes a duration up to 65 s and names itself when the value is wrong', () => {
    expect(restartHoldFlag(undefined)).toBe(10_000);
    expect(restartHoldFlag('0')).toBe(0);
    expect(restartHoldFlag('2500ms')).toBe(2500);
    expect(() => restartHoldFlag('ten')).toThrow(
      '--layer2-restart-hold: "ten" is not a duration from 0 to 65s',
    );
    expect(() => restartHoldFlag('2m')).toThrow(/--layer2-restart-hold: "2m"/);
  });
});
