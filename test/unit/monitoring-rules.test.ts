// The alerting rules (monitoring/alerts.yaml): promtool accepts them, their unit tests
// (monitoring/tests/alerts.test.yaml) pass, every alert is tested both firing and quiet, and
// every runbook_url leads to a heading of docs/runbooks.md.

import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import {
  alertRules,
  alertTestsFile,
  alertsFile,
  promtool,
  repoRoot,
  runbooksFile,
} from '../support/monitoring-kit.js';

interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6}\s+(.+)$/gm))
    out.add(
      (m[1] ?? '')
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    );
  return out;
}

describe('monitoring/alerts.yaml', () => {
  const rules = alertRules();

  it('passes promtool check rules', async () => {
    const run = await promtool(['check', 'rules', path.relative(repoRoot, alertsFile)]);
    expect(run.stdout + run.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(run.code).toBe(0);
  });

  it('passes its promtool unit tests', async () => {
    const run = await promtool(['test', 'rules', path.basename(alertTestsFile)], {
      cwd: path.dirname(alertTestsFile),
    });
    expect({ code: run.code, output: run.stdout + run.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS') as unknown as string,
    });
  });

  it('has a test where each alert fires and one where it stays quiet', () => {
    const doc = yaml.load(fs.readFileSync(alertTestsFile, 'utf8')) as {
      tests: Array<{ alert_rule_test?: AlertTest[] }>;
    };
    const checks = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    const untested = rules.flatMap((r) => {
      const mine = checks.filter((c) => c.alertname === r.alert);
      const fires = mine.some((c) => (c.exp_alerts ?? []).length > 0);
      const quiet = mine.some((c) => (c.exp_alerts ?? []).length === 0);
      return [
        ...(fires ? [] : [`${r.alert}: no test where it fires`]),
        ...(quiet ? [] : [`${r.alert}: no test where it stays quiet`]),
      ];
    });
    expect(untested).toEqual([]);
  });

  it('gives every alert a severity, a summary and a runbook section that exists', () => {
    const sections = anchors(fs.readFileSync(runbooksFile, 'utf8'));
    const problems = rules.flatMap((r) => {
      const url = r.annotations?.runbook_url ?? '';
      const anchor = /^docs\/runbooks\.md#([\w-]+)$/.exec(url)?.[1];
      return [
        ...(r.labels?.severity === 'warning' || r.labels?.severity === 'critical'
          ? []
          : [`${r.alert}: severity`]),
        ...(r.annotations?.summary ? [] : [`${r.alert}: summary`]),
        ...(anchor !== undefined && sections.has(anchor)
          ? []
          : [`${r.alert}: runbook_url ${JSON.stringify(url)}`]),
      ];
    });
    expect(problems).toEqual([]);
  });

  it('keeps the names and thresholds of MetalLB’s Helm chart alerts', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    for (const pct of [75, 85, 95])
      expect(byName.get(`MetalLBAddressPoolUsage${pct}Percent`)?.expr).toMatch(new RegExp(`> ${pct}$`));
    for (const name of [
      'MetalLBStaleConfig',
      'MetalLBConfigNotLoaded',
      'MetalLBAddressPoolExhausted',
      'MetalLBBGPSessionDown',
    ])
      expect(byName.get(name)?.for).toBe('1m');
  });
});
