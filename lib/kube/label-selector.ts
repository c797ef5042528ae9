// Kubernetes label selectors (metav1.LabelSelector) with the apimachinery semantics: every
// matchLabels pair and every matchExpressions requirement must hold; an empty selector matches
// everything. Used for IPAddressPool spec.serviceAllocation.namespaceSelectors and
// serviceSelectors.

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  readonly key: string;
  /** Typed as string because it comes straight from user YAML; see labelSelectorProblems. */
  readonly operator: LabelSelectorOperator | string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export type Labels = Readonly<Record<string, string>>;

export function matchesLabelSelector(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    if (!matchesRequirement(req, labels)) return false;
  }
  return true;
}

function matchesRequirement(req: LabelSelectorRequirement, labels: Labels): boolean {
  const present = Object.hasOwn(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return present && values.includes(labels[req.key]!);
    case 'NotIn':
      // apimachinery: a missing key satisfies NotIn.
      return !present || !values.includes(labels[req.key]!);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      // An invalid selector selects nothing rather than everything; the config builder reports
      // it through labelSelectorProblems.
      return false;
  }
}

/**
 * What apimachinery's LabelSelectorAsSelector would refuse, one sentence each, naming the
 * field relative to the selector (`matchExpressions[0].values`).
 */
export function labelSelectorProblems(selector: LabelSelector): string[] {
  const problems: string[] = [];
  (selector.matchExpressions ?? []).forEach((req, i) => {
    const at = `matchExpressions[${i}]`;
    const count = req.values?.length ?? 0;
    switch (req.operator) {
      case 'In':
      case 'NotIn':
        if (count === 0) problems.push(`${at}.values: operator ${req.operator} needs at least one value`);
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (count > 0) problems.push(`${at}.values: operator ${req.operator} takes no values`);
        break;
      default:
        problems.push(
          `${at}.operator ${JSON.stringify(req.operator)}: not one of In, NotIn, Exists, DoesNotExist`,
        );
    }
  });
  return problems;
}
