// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The conversions store changes conversions without announcing them: only the conversion
 * engine (lib/conversions) may use it, so no transition skips its `conversion.updated` event.
 * Its types (ConversionRecord) are shared vocabulary; tests read the store directly.
 */
const CONVERSIONS_STORE = {
  group: ['**/stores/conversions.js'],
  allowTypeImports: true,
  message:
    'change conversions through lib/conversions/createConversionEngine.ts, which announces each change',
};

export default tseslint.config(
  {
    ignores: ['dist/', '.local/', 'node_modules/', 'coverage/', 'sdk/generated/', 'test-results/'],
  },
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
  // which use the two below and not each other, and lib/conversions (the conversion engine),
  // which uses lib/broker and lib/stores; lib/ uses nothing of the processes, and no process
  // reaches into another's folder. tests/imports.test.ts also fails on any cycle.
  ...forbidImports(
    {
      'lib/platform': [
        '../contracts/*',
        '../broker/*',
        '../stores/*',
        '../server/*',
        '../conversions/*',
        '../../*',
      ],
      'lib/contracts': ['../broker/*', '../stores/*', '../server/*', '../conversions/*', '../../*'],
      'lib/broker': ['../stores/*', '../server/*', '../conversions/*', '../../*'],
      'lib/stores': ['../broker/*', '../server/*', '../conversions/*', '../../*'],
      'lib/server': ['../broker/*', '../stores/*', '../conversions/*', '../../*'],
      'lib/conversions': ['../server/*', '../../*'],
    },
    'a lib/ layer imports only the layers below it, and nothing outside lib/',
  ),
  ...forbidImports(
    Object.fromEntries(
      Object.entries({
        router: ['subgraphs', 'worker', 'scripts'],
        'subgraphs/auth': ['router', 'worker', 'media', 'conversion'],
        'subgraphs/media': ['router', 'worker', 'auth', 'conversion'],
        'subgraphs/conversion': ['router', 'worker', 'auth', 'media'],
        worker: ['router', 'subgraphs', 'scripts'],
      }).map(([folder, others]) => [
        folder,
        others.flatMap((other) => [`**/${other}/*`, `**/${other}/**/*`]),
      ]),
    ),
    'no process imports another process',
  ),
  {
    // The folders without a layer rule above (those with one carry CONVERSIONS_STORE in it).
    files: ['scripts/**/*.ts', 'bench/**/*.ts', 'web/**/*.ts', 'sdk/**/*.ts', 'codegen.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [CONVERSIONS_STORE] }],
    },
  },
);

/**
 * For each folder, import patterns its files may not use (no-restricted-imports).
 * @param {Record<string, string[]>} patternsByFolder
 * @param {string} why
 */
function forbidImports(patternsByFolder, why) {
  return Object.entries(patternsByFolder).map(([folder, group]) => ({
    files: [`${folder}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group, message: `${folder}: ${why} (see eslint.config.js)` },
            ...(folder === 'lib/conversions' ? [] : [CONVERSIONS_STORE]),
          ],
        },
      ],
    },
  }));
}
