// Runs before `npm start` and `npm test`, with nothing but Node: installs dependencies when
// they are missing or older than the lockfile, compiles TypeScript (incrementally, so a
// second run takes a second or two), and builds the web app when its sources changed.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`reelflux | Node.js 20.19 or newer is needed; this is ${process.version}.`);
  process.exit(1);
}

/** @param {string} command @param {string[]} args */
const run = (command, args) => {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.log('reelflux | installing dependencies (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}
run(process.execPath, [
  join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  '-p',
  'tsconfig.build.json',
]);
// tsc writes files without the executable bit; `npx reelflux` runs the bin directly.
chmodSync(join(root, 'dist', 'sdk', 'cli', 'main.js'), 0o755);

// The web app (web/) goes to dist/web, which the router serves at `/`. Vite takes a second or
// two, so it runs only when something it bundles is newer than the last build.
const webBuild = join(root, 'dist', 'web', 'index.html');
const webInputs = [
  'web',
  'sdk/generated',
  'sdk/transport',
  'sdk/faststart',
  'sdk/ReelfluxError.ts',
  'lib/contracts',
  'package-lock.json',
];
if (!existsSync(webBuild) || newestChange(webInputs) > statSync(webBuild).mtimeMs) {
  console.log('reelflux | building the web app (vite)…');
  run(process.execPath, [
    join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
    'build',
    '--config',
    join(root, 'web', 'vite.config.ts'),
  ]);
}

/** @param {string[]} paths relative to the root: files, or folders searched whole */
function newestChange(paths) {
  let newest = 0;
  /** @param {string} path */
  const visit = (path) => {
    const stat = statSync(path);
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const path of paths) visit(join(root, path));
  return newest;
}
