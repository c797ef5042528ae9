import type { LabelSelector } from './label-selector.js';
import { labelSelectorProblems, matchesLabelSelector } from './label-selector.js';

const labels = { app: 'web', tier: 'edge' };

describe('matchesLabelSelector', () => {
  it.each<[string, LabelSelector, boolean]>([
    ['an empty selector matches everything', {}, true],
    ['matchLabels needs every pair', { matchLabels: { app: 'web', tier: 'edge' } }, true],
    ['matchLabels fails on a wrong value', { matchLabels: { app: 'db' } }, false],
    ['matchLabels fails on a missing key', { matchLabels: { zone: 'a' } }, false],
    [
      'In matches a listed value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['dmz', 'edge'] }] },
      true,
    ],
    [
      'In fails on an unlisted value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['dmz'] }] },
      false,
    ],
    [
      'In fails on a missing key',
      { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
      false,
    ],
    [
      'NotIn matches an unlisted value',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['dmz'] }] },
      true,
    ],
    [
      'NotIn fails on a listed value',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['edge'] }] },
      false,
    ],
    [
      'NotIn matches a missing key',
      { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] },
      true,
    ],
    ['Exists matches a present key', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['Exists fails on a missing key', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    [
      'DoesNotExist matches a missing key',
      { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] },
      true,
    ],
    [
      'DoesNotExist fails on a present key',
      { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] },
      false,
    ],
    [
      'matchLabels and matchExpressions must all hold',
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['dmz'] }] },
      false,
    ],
    [
      'an unknown operator selects nothing',
      { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['web'] }] },
      false,
    ],
    [
      'inherited object keys are not labels',
      { matchExpressions: [{ key: 'toString', operator: 'Exists' }] },
      false,
    ],
  ])('%s', (_name, selector, expected) => {
    expect(matchesLabelSelector(selector, labels)).toBe(expected);
  });
});

describe('labelSelectorProblems', () => {
  it('accepts a valid selector', () => {
    expect(
      labelSelectorProblems({
        matchExpressions: [
          { key: 'a', operator: 'In', values: ['x'] },
          { key: 'b', operator: 'Exists' },
        ],
      }),
    ).toEqual([]);
  });

  it('names each invalid requirement', () => {
    expect(
      labelSelectorProblems({
        matchExpressions: [
          { key: 'a', operator: 'In', values: [] },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: 'c', operator: 'Equals' },
        ],
      }),
    ).toEqual([
      'matchExpressions[0].values: operator In needs at least one value',
      'matchExpressions[1].values: operator Exists takes no values',
      'matchExpressions[2].operator "Equals": not one of In, NotIn, Exists, DoesNotExist',
    ]);
  });
});
