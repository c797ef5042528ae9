// The layering rule of docs/architecture.md: lib/ imports neither program, and the controller and
// the speaker never import each other. ESLint's no-restricted-imports enforces it in `make
// check`; these tests show the rule rejects such an import and that the tree has none.

import fs from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = process.cwd();
const eslint = new ESLint({ cwd: root });

async function lintErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs)$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

describe('layering', () => {
  test.each([
    ['lib/kube/probe.ts', "import { start } from '../../controller/main.js';"],
    ['lib/probe.ts', "import type { ProtocolContext } from '../speaker/mode.js';"],
    ['speaker/bgp/probe.ts', "import { serviceWriter } from '../../controller/kube-edges.js';"],
    ['controller/probe.ts', "import { ClusterView } from '../speaker/cluster/view.js';"],
  ])('%s may not import %s', async (file, code) => {
    expect(await lintErrors(file, `${code}\nexport const x = 1;\n`)).toHaveLength(1);
  });

  test('imports within a layer and from lib/ are allowed', async () => {
    expect(
      await lintErrors(
        'speaker/bgp/probe.ts',
        "import { log } from '../../lib/log.js';\nexport const x = log;\n",
      ),
    ).toEqual([]);
    expect(
      await lintErrors(
        'controller/probe.ts',
        "import { log } from '../lib/log.js';\nexport const x = log;\n",
      ),
    ).toEqual([]);
  });

  test('no file in lib/ or speaker/ imports the controller, and none in lib/ or controller/ the speaker', () => {
    const offending: string[] = [];
    const check = (dir: string, forbidden: RegExp) => {
      for (const file of sources(dir)) {
        const text = fs.readFileSync(path.join(root, file), 'utf8');
        for (const m of text.matchAll(/from\s+'([^']+)'/g))
          if (forbidden.test(m[1]!)) offending.push(`${file}: ${m[1]}`);
      }
    };
    check('lib', /(^|\/)(controller|speaker)\//);
    check('speaker', /(^|\/)controller\//);
    check('controller', /(^|\/)speaker\//);
    expect(offending).toEqual([]);
  });
});
