// `npm run cluster -- up|down`: the local cluster by hand, as `npm run test:cluster` brings it
// up around its tests. See docs/operations.md, "Local Kubernetes cluster".
import { pathToFileURL } from 'node:url';
import { bringUp } from './cluster.js';
import { stopCluster } from './down.js';
import { KUBECONFIG } from './layout.js';

const say = (line: string) => process.stdout.write(`cluster | ${line}\n`);

async function main(command: string | undefined): Promise<void> {
  if (command === 'up') {
    const facts = await bringUp(say);
    say(`up: ${JSON.stringify(facts.times)} (admin kubeconfig: ${KUBECONFIG})`);
    return;
  }
  if (command === 'down') return stopCluster(say);
  throw new Error('usage: npm run cluster -- up | down');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv[2]).catch((error: unknown) => {
    process.stderr.write(`cluster | ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
