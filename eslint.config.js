// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The store modules (lib/stores/<name>.ts) each process may import; none other. */
const STORES_BY_PROCESS = {
  router: [],
  'subgraphs/auth': ['createRateWindows'],
  'subgraphs/media': ['createRateWindows', 'storageQuota', 'gridfs', 'uploadFiles', 'audioFiles'],
  'subgraphs/conversion': ['createRateWindows', 'conversions'],
  'subgraphs/notification': ['createRateWindows'],
  worker: ['conversions', 'storageQuota', 'gridfs', 'followUpload', 'audioFiles'],
  scripts: ['gridfs', 'uploadFiles'],
};

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
  {
    // Service workers Vite copies into the build as they are: plain JavaScript, in a scope of
    // their own that no tsconfig describes (lib.dom has no ServiceWorkerGlobalScope).
    files: ['web/public/**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { self: 'readonly', URL: 'readonly' } },
  },
  // Layers, bottom up: lib/platform (env, logging, paths, MongoDB client), lib/contracts (what
  // processes agree on: codes, messages, options), then lib/broker, lib/stores and lib/server,
  // which use the two below and not each other, and lib/conversions (the conversion engine),
  // which uses lib/broker and lib/stores; lib/ uses nothing of the processes, and no process
  // reaches into another's folder. tests/imports.test.ts also fails on any cycle.
  ...restrictImports([
    ...Object.entries({
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
    }).map(([folder, group]) => ({
      folder,
      group,
      why: 'a lib/ layer imports only the layers below it, and nothing outside lib/',
    })),
    ...Object.entries({
      router: ['subgraphs', 'worker', 'scripts'],
      'subgraphs/auth': ['router', 'worker', 'media', 'conversion', 'notification'],
      'subgraphs/media': ['router', 'worker', 'auth', 'conversion', 'notification'],
      'subgraphs/conversion': ['router', 'worker', 'auth', 'media', 'notification'],
      'subgraphs/notification': ['router', 'worker', 'auth', 'media', 'conversion'],
      worker: ['router', 'subgraphs', 'scripts'],
    }).map(([folder, others]) => ({
      folder,
      group: others.flatMap((other) => [`**/${other}/*`, `**/${other}/**/*`]),
      why: 'no process imports another process',
    })),
    // Which process may use which store module (lib/stores/*): docs/architecture.md has the
    // collections, buckets and queues behind them. The upload files have two sides: media
    // writes them (uploadFiles), workers follow them (followUpload); the MP3s (audioFiles) are
    // written by workers and served and removed by media.
    ...Object.entries(STORES_BY_PROCESS).map(([folder, allowed]) => ({
      folder,
      group: ['**/lib/stores/*', ...allowed.map((store) => `!**/lib/stores/${store}.js`)],
      why: `uses only the store modules ${allowed.join(', ') || '(none)'}`,
    })),
    // The upload-marker protocol is the upload files' own: only their two sides speak it.
    {
      folder: 'lib/stores',
      except: ['lib/stores/uploadFiles.ts', 'lib/stores/followUpload.ts'],
      group: ['./uploadMarkers.js'],
      why: 'only uploadFiles and followUpload use the upload markers',
    },
  ]),
  {
    // The folders without an import rule above (those with one carry CONVERSIONS_STORE in it).
    files: ['bench/**/*.ts', 'web/**/*.ts', 'sdk/**/*.ts', 'codegen.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [CONVERSIONS_STORE] }],
    },
  },
);

/**
 * @typedef {{ folder: string, group: string[], why: string, except?: string[] }} ImportRule
 * The import patterns (no-restricted-imports) the files of `folder`, but those in `except`,
 * may not use, and why.
 */

/**
 * One config per folder (and per exception), holding every rule that applies to its files:
 * flat config replaces a rule's options rather than merging them, so a folder with two
 * configs for no-restricted-imports would keep only the last.
 * @param {ImportRule[]} rules
 */
function restrictImports(rules) {
  /** @type {Map<string, { files: string[], ignores: string[], rules: ImportRule[] }>} */
  const configs = new Map();
  for (const rule of rules) {
    const key = `${rule.folder}|${(rule.except ?? []).join(',')}`;
    const config = configs.get(key) ?? {
      files: [`${rule.folder}/**/*.ts`],
      ignores: rule.except ?? [],
      rules: [],
    };
    configs.set(key, config);
  }
  // A config with exceptions also carries the rules of its whole folder.
  for (const config of configs.values()) {
    for (const rule of rules) {
      const inFolder = config.files[0] === `${rule.folder}/**/*.ts`;
      const excepted = (rule.except ?? []).every((file) => config.ignores.includes(file));
      if (inFolder && excepted) config.rules.push(rule);
    }
  }
  return [...configs.values()].map(({ files, ignores, rules: applied }) => ({
    files,
    ignores,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...applied.map(({ folder, group, why }) => ({
              group,
              message: `${folder}: ${why} (see eslint.config.js)`,
            })),
            ...(files[0] === 'lib/conversions/**/*.ts' ? [] : [CONVERSIONS_STORE]),
          ],
        },
      ],
    },
  }));
}
