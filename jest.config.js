// Jest runs the TypeScript sources as native ES modules (the Kubernetes client is ESM-only),
// transpiled file by file by ts-jest (no type checking here: `make check` runs tsc). Jest 29 +
// ts-jest are used because their dependency tree has no per-platform binary packages, which
// the npm mirror here only partly serves (that broke `npm ci` with Jest 30 and SWC).
// Three projects: unit tests (pure, fast), integration tests (a real control plane) and e2e
// tests (the control plane plus the network lab, root only). A fourth, cluster, is Beacon's
// image on a real three-node cluster (test/cluster/): `make test` runs it last and in band (one
// cluster at a time), `make test-cluster` alone.

const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
};
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  rootDir: '.',
};
const withControlPlane = {
  globalSetup: '<rootDir>/test/env/jest-global-setup.mjs',
  globalTeardown: '<rootDir>/test/env/jest-global-teardown.mjs',
};

/** @type {import('jest').Config} */
export default {
  testTimeout: 30000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{lib,controller,speaker}/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      ...common,
      ...withControlPlane,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
    {
      ...common,
      ...withControlPlane,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
    },
  ],
};
