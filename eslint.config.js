import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Forbids imports from `forbidden` top folders in `files`, with `message` saying what to do. */
function layer(files, forbidden, message) {
  const group = forbidden.flatMap((dir) => [`**/${dir}/**`, `${dir}/**`]);
  return {
    files: [files],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.testenv/', 'speaker/native/build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Layering: lib/ is shared by both programs and imports neither; the controller and the
  // speaker never import each other (what both need moves to lib/). docs/architecture.md.
  layer('lib/**', ['controller', 'speaker'], 'lib/ is shared by both programs: move what it needs into lib/'),
  layer('speaker/**', ['controller'], 'the speaker must not import the controller: move shared code to lib/'),
  layer('controller/**', ['speaker'], 'the controller must not import the speaker: move shared code to lib/'),
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
