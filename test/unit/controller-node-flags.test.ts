// The controller runs with the same V8 flags wherever it is started: the image, the chart, the
// one-file manifests and the lab's launchers (which import controllerNodeFlags).

import fs from 'node:fs';
import path from 'node:path';
import { controllerNodeFlags } from '../../controller/node-flags.js';
import { repoRoot } from '../env/control-plane.js';

const read = (file: string): string => fs.readFileSync(path.join(repoRoot, file), 'utf8');
const yamlCommand = `command: [node, ${controllerNodeFlags.join(', ')}, dist/controller/main.js]`;

describe('controller V8 flags', () => {
  it('are set, and the image runs the controller with them', () => {
    expect(controllerNodeFlags.length).toBeGreaterThan(0);
    const cmd = JSON.stringify(['node', ...controllerNodeFlags, 'dist/controller/main.js']).replaceAll(
      ',',
      ', ',
    );
    expect(read('Dockerfile')).toContain(`CMD ${cmd}`);
  });

  it('the chart and the manifests run the controller with them', () => {
    expect(read('charts/beacon/templates/controller.yaml')).toContain(yamlCommand);
    expect(read('manifests/controller.yaml')).toContain(yamlCommand);
  });
});
