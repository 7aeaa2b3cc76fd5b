import { processPort } from '../lib/platform/processPorts.js';
import { SUBGRAPHS } from '../lib/contracts/subgraphs.js';
import { ensureInfrastructure, infrastructureEnv } from './ensureInfrastructure.js';
import { MissingInfrastructureError } from './infrastructure/hostTools.js';
import { launchStack, stackProcesses } from './launchStack.js';

// `npm start`: infrastructure, then every process of the stack, until Ctrl-C.
const say = (line: string) => process.stdout.write(`reelflux | ${line}\n`);

try {
  const infra = await ensureInfrastructure(process.env, say);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: process.env.HOST ?? '127.0.0.1',
    ...infrastructureEnv(infra),
  };
  env.PUBLIC_URL ??= `http://127.0.0.1:${processPort(env, 'router')}`;
  // The router finds each subgraph on the port that subgraph was given.
  for (const { name } of SUBGRAPHS) {
    env[`${name.toUpperCase()}_URL`] ??= `http://127.0.0.1:${processPort(env, name)}`;
  }

  // REELFLUX_PROCESSES=auth,media,router runs a part of the stack (the rest elsewhere, or not at
  // all: a benchmark that holds conversions in the queue starts without the worker).
  const all = stackProcesses(env);
  const wanted = env.REELFLUX_PROCESSES?.split(',').map((name) => name.trim());
  const unknown = wanted?.filter((name) => !all.some((spec) => spec.name === name)) ?? [];
  if (unknown.length > 0) {
    say(`REELFLUX_PROCESSES names unknown processes: ${unknown.join(', ')}`);
    process.exit(1);
  }
  const stack = launchStack(wanted ? all.filter((spec) => wanted.includes(spec.name)) : all, env);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping every process…`);
    await stack.stop();
    await infra.stop();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  await stack.ready();
  const url = `http://127.0.0.1:${processPort(env, 'router')}`;
  say(`ready: open ${url}/ in a browser to convert a video`);
  say(
    `GraphQL: ${url}/graphql (Apollo Sandbox there, where the browser reaches Apollo's CDN); try:`,
  );
  say(`  curl -s ${url}/graphql -H 'content-type: application/json' \\`);
  say(
    `    -d '{"query":"mutation { signUp(email: \\"me@example.com\\", password: \\"correct horse battery\\") { token } }"}'`,
  );
  say(`  curl -s -X POST -u me@example.com:'correct horse battery' ${url}/auth/login`);
  if (infra.mailWebUrl) {
    say(`mail the stack sends (address checks, notifications), in a browser: ${infra.mailWebUrl}`);
  }
  say(
    'webhooks to this machine (http://127.0.0.1/…) need WEBHOOK_ALLOW_PRIVATE_NETWORKS=true WEBHOOK_ALLOW_HTTP=true npm start',
  );
  say('Ctrl-C stops everything.');
} catch (error) {
  if (!(error instanceof MissingInfrastructureError)) throw error;
  say(`cannot start: ${error.message}`);
  process.exit(1);
}
