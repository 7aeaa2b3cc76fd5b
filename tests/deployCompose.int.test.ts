import {
  PROCESSES,
  isProcess,
  expectOwnUsers,
  loadWith,
  describeShipping,
} from './helpers/deployManifests.js';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { ConfigError } from '../lib/platform/readEnv.js';

/** Offline: docker-compose.yml and the Dockerfile agree with the code and the manifests. */
describeShipping('docker-compose and the Dockerfile', (manifests) => {
  it('runs the same processes, variables and ports in docker-compose.yml', () => {
    const compose = parseYaml(readFileSync(fromRoot('docker-compose.yml'), 'utf8'), {
      merge: true,
    }) as {
      services: Record<
        string,
        {
          image?: string;
          command?: string[];
          environment?: Record<string, string>;
          ports?: string[];
          healthcheck?: unknown;
          depends_on?: Record<string, { condition: string }>;
          secrets?: string[];
          deploy?: { replicas?: number };
        }
      >;
      secrets: Record<string, { file: string }>;
    };
    const names = Object.keys(compose.services);
    expect(names).toEqual(expect.arrayContaining([...Object.keys(PROCESSES), 'mongo', 'rabbitmq']));
    expect(compose.services.mongo?.image).toBe('mongo:7');
    expect(compose.services.rabbitmq?.image).toBe('rabbitmq:3-management');
    for (const infra of ['mongo', 'rabbitmq'])
      expect(compose.services[infra]?.healthcheck).toBeDefined();
    expect(compose.services.worker?.deploy?.replicas).toBe(2);
    expect(compose.services.router?.ports).toContain('4000:4000');
    // Only the router's public port is published; no internal port (health, metrics) is.
    const published = Object.values(compose.services).flatMap((service) => service.ports ?? []);
    for (const { internalPort } of Object.values(PROCESSES))
      expect(published.join(' '), String(internalPort)).not.toContain(String(internalPort));
    for (const name of Object.keys(PROCESSES)) {
      if (!isProcess(name)) continue;
      const service = compose.services[name];
      expect(service?.command, name).toEqual([name]);
      expect(service?.image, name).toBe('reelflux:latest');
      expect(
        Object.values(service?.depends_on ?? {}).every((d) => d.condition === 'service_healthy'),
        name,
      ).toBe(true);
      const env = Object.fromEntries(
        Object.entries(service?.environment ?? {}).map(([k, v]) => [
          k,
          String(v).replace(/\$\{(\w+):-([^}]*)\}/g, '$2'),
        ]),
      );
      for (const [variable, path] of Object.entries(env)) {
        if (!variable.endsWith('_FILE')) continue;
        const secret = path.replace('/run/secrets/', '');
        expect(service?.secrets, `${name} ${variable}`).toContain(secret);
        expect(compose.secrets[secret]?.file, `${name} ${variable}`).toMatch(
          /^\$\{REELFLUX_KEYS_DIR:-\.\/\.local\/keys\}\//,
        );
      }
      expect(() => loadWith(name, env), name).not.toThrow(ConfigError);
      expectOwnUsers(name, name, loadWith(name, env));
    }
  });

  it('builds one non-root image whose entry point runs each process', () => {
    const dockerfile = readFileSync(fromRoot('Dockerfile'), 'utf8');
    const entrypoint = readFileSync(fromRoot('scripts', 'container-entrypoint.sh'), 'utf8');
    const ignored = readFileSync(fromRoot('.dockerignore'), 'utf8').split('\n');
    expect(dockerfile).toMatch(/^FROM \S+ AS build$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    // FFmpeg built for MP3s only: no network protocols, LAME, and the demuxers the worker allows.
    expect(dockerfile).toMatch(/^FROM \S+ AS ffmpeg$/m);
    expect(dockerfile).toMatch(/--disable-network .*\n(.*\n)*.*--enable-protocol=file,pipe /);
    expect(dockerfile).toMatch(/--enable-libmp3lame /);
    expect(dockerfile).toMatch(/--enable-encoder=libmp3lame /);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)?.[1]?.split(' ').map(Number);
    expect(exposed?.sort()).toEqual(
      Object.values(PROCESSES)
        .flatMap((p) => (p.port === undefined ? [p.internalPort] : [p.port, p.internalPort]))
        .sort(),
    );
    for (const name of Object.keys(PROCESSES))
      expect(entrypoint).toMatch(new RegExp(`\\b${name}\\b`));
    // Every path the entry point runs is one the build compiles.
    for (const [, path] of entrypoint.matchAll(/exec node "?([^"\s]+)"?/g)) {
      expect(path).toMatch(/^dist\/(router|worker|subgraphs\/\$1)\/main\.js$/);
    }
    expect(ignored).toEqual(
      expect.arrayContaining(['node_modules', 'dist', '.local', 'tests', '.git']),
    );
    execFileSync('sh', ['-n', fromRoot('scripts', 'container-entrypoint.sh')]);
  });

  it('puts in the build context and the build stage every SDK module the web app imports', () => {
    const dockerfile = readFileSync(fromRoot('Dockerfile'), 'utf8');
    const ignored = readFileSync(fromRoot('.dockerignore'), 'utf8').split('\n');
    // What the page imports from sdk/, by its first path segment (a folder or a file).
    const imported = new Set<string>();
    const visit = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) visit(path);
        else if (/\.tsx?$/.test(entry.name)) {
          const text = readFileSync(path, 'utf8');
          for (const [, part] of text.matchAll(/from '(?:\.\.\/)+sdk\/([^/']+)/g)) {
            imported.add(part!.replace(/\.js$/, '.ts'));
          }
        }
      }
    };
    visit(fromRoot('web', 'src'));
    expect(imported.size).toBeGreaterThan(0);
    for (const part of imported) {
      expect(ignored, `.dockerignore lets sdk/${part} in`).toContain(`!sdk/${part}`);
      expect(dockerfile, `the Dockerfile copies sdk/${part}`).toContain(
        `COPY sdk/${part} sdk/${part}`,
      );
    }
  });

  it("passes the Compose specification loader and BuildKit's Dockerfile linter", () => {
    // No Docker engine here: these are the same Go libraries `docker compose` and
    // `docker build` use to read the files (scripts/manifestcheck).
    const output = execFileSync(manifests.tools.manifestcheck, [fromRoot()], { encoding: 'utf8' });
    expect(output).toContain(`docker-compose.yml: ${Object.keys(PROCESSES).length + 2} services`);
    expect(output).toContain('Dockerfile: 3 stages');
  });
});
