// What each configuration object's status should say about it (pure): one condition of type
// "Valid" — True, or False with every error — so `kubectl get`/`describe` shows the problem
// on the object itself. Warnings keep the object valid but are listed in the message.

import type { Config, ConfigKind, ConfigProblem, ObjectRef } from './types.js';
import { problemText } from './types.js';

export const validCondition = 'Valid';

export interface DesiredCondition {
  ref: ObjectRef;
  status: 'True' | 'False';
  reason: 'Valid' | 'ValidWithWarnings' | 'InvalidConfiguration';
  message: string;
  problems: readonly ConfigProblem[];
}

const refKey = (r: ObjectRef) => `${r.kind}/${r.namespace}/${r.name}`;

/** One desired condition per configuration object named in `objects`. */
export function desiredConditions(config: Config, objects: readonly ObjectRef[]): DesiredCondition[] {
  const byObject = new Map<string, ConfigProblem[]>();
  for (const p of config.problems) {
    const k = refKey(p.ref);
    byObject.set(k, [...(byObject.get(k) ?? []), p]);
  }
  return objects.map((ref) => {
    const problems = byObject.get(refKey(ref)) ?? [];
    const errors = problems.filter((p) => p.severity === 'error');
    const text = (ps: ConfigProblem[]) => ps.map(problemText).join('; ');
    if (errors.length > 0)
      return {
        ref,
        status: 'False',
        reason: 'InvalidConfiguration',
        message: `${text(errors)} (the object is not in use)`,
        problems,
      };
    if (problems.length > 0)
      return { ref, status: 'True', reason: 'ValidWithWarnings', message: text(problems), problems };
    return { ref, status: 'True', reason: 'Valid', message: 'in use', problems };
  });
}

/** Counts of invalid objects per kind, for beacon_config_invalid_objects. */
export function invalidObjectCounts(config: Config): Map<ConfigKind | 'Secret', number> {
  const seen = new Set<string>();
  const counts = new Map<ConfigKind | 'Secret', number>();
  for (const p of config.problems)
    if (p.severity === 'error' && !seen.has(refKey(p.ref))) {
      seen.add(refKey(p.ref));
      counts.set(p.ref.kind, (counts.get(p.ref.kind) ?? 0) + 1);
    }
  return counts;
}
