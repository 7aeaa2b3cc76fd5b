// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', '.local/', 'node_modules/', 'coverage/', 'sdk/generated/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] } },
      globals: { process: 'readonly', console: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Tests and scripts assert on parsed JSON; `any` from JSON.parse is checked there.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      // Apollo's plugin hooks must return promises even when they have nothing to await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Run by MongoDB's shell (mongosh), not by Node: CommonJS with the shell's globals.
    files: ['k8s/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { db: 'readonly', require: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Layers, bottom up: lib/platform (env, logging, paths, MongoDB client), lib/contracts (what
  // processes agree on: codes, messages, options), then lib/broker, lib/stores and lib/server,
  // which use the two below and not each other; lib/ uses nothing of the processes, and no
  // process reaches into another's folder. tests/imports.test.ts also fails on any cycle.
  ...layerRules({
    'lib/platform': ['../contracts', '../broker', '../stores', '../server'],
    'lib/contracts': ['../broker', '../stores', '../server'],
    'lib/broker': ['../stores', '../server'],
    'lib/stores': ['../broker', '../server'],
    'lib/server': ['../broker', '../stores'],
  }),
  ...folderRules({
    router: ['subgraphs', 'worker', 'scripts'],
    'subgraphs/auth': ['router', 'worker', 'media', 'conversion'],
    'subgraphs/media': ['router', 'worker', 'auth', 'conversion'],
    'subgraphs/conversion': ['router', 'worker', 'auth', 'media'],
    worker: ['router', 'subgraphs', 'scripts'],
  }),
);

/**
 * A lib/ layer may not import the layers listed for it, nor anything outside lib/.
 * @param {Record<string, string[]>} forbidden
 */
function layerRules(forbidden) {
  return Object.entries(forbidden).map(([layer, above]) => ({
    files: [`${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...above.map((dir) => `${dir}/*`), '../../*'],
              message: `${layer} may not import this layer, or anything outside lib/ (see eslint.config.js)`,
            },
          ],
        },
      ],
    },
  }));
}

/**
 * A folder may not import the folders listed for it, at any depth.
 * @param {Record<string, string[]>} forbidden
 */
function folderRules(forbidden) {
  return Object.entries(forbidden).map(([folder, others]) => ({
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: others.flatMap((other) => [`**/${other}/*`, `**/${other}/**/*`]),
              message: `${folder} may not import from this folder (see eslint.config.js)`,
            },
          ],
        },
      ],
    },
  }));
}
