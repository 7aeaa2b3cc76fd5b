// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { spawnSync } from 'node:child_process';
import amqp from 'amqplib';
import {
  aptInstall,
  findExecutable,
  MissingInfrastructureError,
  portOpen,
  type Say,
} from './hostTools.js';

/** AMQP_URL if set; else the broker on 127.0.0.1:5672; else Debian's, installed and started. */
export async function ensureRabbitMq(env: NodeJS.ProcessEnv, say: Say): Promise<string> {
  if (env.AMQP_URL) {
    await expectAmqp(env.AMQP_URL, 'AMQP_URL');
    return env.AMQP_URL;
  }
  const url = 'amqp://guest:guest@127.0.0.1:5672';
  if (await portOpen(5672)) {
    await expectAmqp(url, 'the RabbitMQ broker on 127.0.0.1:5672');
    return url;
  }
  if (!findExecutable('rabbitmq-server', ['/usr/sbin/rabbitmq-server'])) {
    aptInstall('rabbitmq-server', 'RabbitMQ', 'AMQP_URL', say);
  }
  say('RabbitMQ: starting rabbitmq-server…');
  spawnSync(
    findExecutable('rabbitmq-server', ['/usr/sbin/rabbitmq-server']) ?? 'rabbitmq-server',
    ['-detached'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(5672))) {
    if (Date.now() > deadline) {
      throw new MissingInfrastructureError(
        'rabbitmq-server did not start listening on 5672 within 60 s: start it by hand or set AMQP_URL.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await expectAmqp(url, 'the RabbitMQ broker we started');
  return url;
}

async function expectAmqp(url: string, what: string): Promise<void> {
  // The port opens before the broker accepts logins; give it a few tries.
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await amqp.connect(url, { timeout: 5_000 });
      await connection.close();
      return;
    } catch (error) {
      if (attempt >= 20) {
        throw new MissingInfrastructureError(
          `${what} refuses AMQP connections (${(error as Error).message}): fix the broker or AMQP_URL.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
