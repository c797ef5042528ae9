// Jest runs the TypeScript sources as native ES modules (the Kubernetes client is ESM-only),
// transpiled by SWC; `make check` runs the type checker separately.
// Three projects: unit tests (pure, fast), integration tests (a real control plane) and e2e
// tests (the control plane plus the network lab, root only).

const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    },
  ],
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
  ],
};
