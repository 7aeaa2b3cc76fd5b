import 'vitest';
import type { TestProject } from 'vitest/node';
import { bringUp, type StepTimes } from '../scripts/cluster/cluster.js';
import type { ClusterBinaries } from '../scripts/cluster/binaries.js';
import { stopCluster } from '../scripts/cluster/down.js';
import { KUBECONFIG, NETWORK } from '../scripts/cluster/layout.js';
import { ensureFfmpeg } from '../scripts/infrastructure/ensureFfmpeg.js';

export interface LocalCluster {
  bin: ClusterBinaries;
  kubeconfig: string;
  /** The router's NodePort on the node's address, as `minikube service --url` prints it. */
  routerUrl: string;
  ffmpegPath: string;
  ffprobePath: string;
  /** Seconds per step of bringing it up. */
  times: StepTimes;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: LocalCluster;
  }
}

/**
 * Brings the local cluster up from nothing (scripts/cluster) with REELFLUX deployed, and takes
 * it all down afterwards, unless REELFLUX_CLUSTER_KEEP=1 (then `npm run cluster -- down`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const say = (line: string) => process.stdout.write(`cluster | ${line}\n`);
  const keep = process.env.REELFLUX_CLUSTER_KEEP === '1';
  const tools = ensureFfmpeg(process.env, say);
  const down = async () => {
    if (keep) say('REELFLUX_CLUSTER_KEEP=1: left running; `npm run cluster -- down` removes it');
    else await stopCluster(say);
  };
  try {
    const { bin, times } = await bringUp(say);
    say(
      `up: ${Object.entries(times)
        .map(([step, s]) => `${step} ${s} s`)
        .join(', ')}`,
    );
    project.provide('cluster', {
      bin,
      kubeconfig: KUBECONFIG,
      routerUrl: `http://${NETWORK.nodeIp}:30400`,
      ...tools,
      times,
    });
  } catch (error) {
    await down();
    throw error;
  }
  return down;
}
