import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { kubectl } from '../scripts/cluster/up.js';
import { NAMESPACE } from '../scripts/cluster/deploy.js';
import { createReelfluxClient, type Conversion } from '../sdk/index.js';
import { PASSWORD } from './helpers/authOperations.js';
import { selects, type NetworkPolicyObject } from './helpers/deployManifests.js';
import { makeLongAudio, makeVideo, probeMp3 } from './helpers/fixtures.js';
import { uniqueName } from './helpers/uniqueName.js';
import { watchThroughOutage } from './helpers/watchThroughOutage.js';

/**
 * The minikube overlay (through k8s/overlays/local-cluster) on a single-node cluster built from
 * upstream Kubernetes by tests/clusterSetup.ts, driven through the router's NodePort with the
 * SDK, as a minikube user would reach it. The tests run in order on one deployment.
 */

interface Pod {
  metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string };
  status: { phase: string };
}

describe('REELFLUX on a local Kubernetes cluster', () => {
  const cluster = inject('cluster');
  const k = (args: string[]) => kubectl(cluster.bin, ['-n', NAMESPACE, ...args]);
  const reelflux = createReelfluxClient({ url: cluster.routerUrl });
  const work = mkdtempSync(join(tmpdir(), 'reelflux-cluster-'));
  const outcomes: string[] = [];
  const record = (step: string, started: number, detail = '') =>
    outcomes.push(
      `${step} ${((Date.now() - started) / 1_000).toFixed(1)} s${detail ? ` (${detail})` : ''}`,
    );
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    const up = Object.entries(cluster.times).map(([step, s]) => `${step} ${s} s`);
    process.stdout.write(
      `cluster | summary: Kubernetes v1.34.2, up [${up.join(', ')}]; passed [${outcomes.join('; ')}]\n`,
    );
  });

  const pods = (app: string): Pod[] =>
    (
      JSON.parse(k(['get', 'pods', '-l', `app.kubernetes.io/name=${app}`, '-o', 'json'])) as {
        items: Pod[];
      }
    ).items.filter((pod) => !pod.metadata.deletionTimestamp);
  const podOf = (app: string) => {
    const found = pods(app).find((pod) => pod.status.phase === 'Running');
    if (!found) throw new Error(`no running ${app} pod`);
    return found.metadata.name;
  };
  const upload = async (name: string, video: Buffer) => {
    const path = join(work, name);
    writeFileSync(path, video);
    // One account uploads everything here: wait out its upload limit as the error says.
    for (;;) {
      try {
        return await reelflux.uploadVideo(path, { mp3: { bitrateKbps: 64, sampleRateHz: 44_100 } });
      } catch (error) {
        const wait = /retry in (\d+) s/.exec((error as Error).message)?.[1];
        if (!wait) throw error;
        await new Promise((resolve) => setTimeout(resolve, (Number(wait) + 1) * 1_000));
      }
    }
  };
  const finalState = async (id: string): Promise<Conversion | undefined> => {
    let last: Conversion | undefined;
    for await (const state of reelflux.watchConversion(id)) last = state;
    return last;
  };
  const downloadOf = async (conversion: Conversion | undefined): Promise<Buffer> => {
    const target = join(work, `${uniqueName('dl')}.mp3`);
    await reelflux.download(conversion?.audio ?? { downloadUrl: '' }, target);
    return readFileSync(target);
  };

  it('converts a video through the router NodePort: sign up, upload, watch, download, ffprobe', async () => {
    const started = Date.now();
    await reelflux.signUp(`${uniqueName('k8s')}@example.com`, PASSWORD);
    const video = await upload('clip.mp4', makeVideo(cluster.ffmpegPath, 8));
    const last = await finalState(video.id);
    expect(last?.status).toBe('SUCCEEDED');
    const facts = probeMp3(cluster.ffprobePath, await downloadOf(last));
    expect(facts.codec).toBe('mp3');
    expect(facts.durationSeconds).toBeCloseTo(8, 0);
    record('convert', started);
  }, 180_000);

  it('finishes a conversion once, on attempt 2, after its worker pod is killed mid-way', async () => {
    const started = Date.now();
    const worker = podOf('worker');
    // Long enough (about 20 s of work) that the 2 s the kubelet still gives a force-deleted pod
    // cannot finish it: a 10-minute file was sometimes done inside them, on attempt 1.
    const video = await upload('long.mp4', makeLongAudio(cluster.ffmpegPath, 3_600));
    let killed = false;
    const states: Conversion[] = [];
    for await (const state of reelflux.watchConversion(video.id)) {
      states.push(state);
      if (!killed && state.status === 'RUNNING' && (state.progress ?? 0) > 0) {
        // What a node failure does to a pod: gone at once, no drain.
        k(['delete', 'pod', worker, '--grace-period=0', '--force', '--wait=false']);
        killed = true;
      }
    }
    expect(killed).toBe(true);
    expect(states.filter((state) => state.status === 'SUCCEEDED')).toHaveLength(1);
    expect(states.at(-1)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(podOf('worker')).not.toBe(worker);
    record('worker pod killed', started, 'attempts 2');
  }, 300_000);

  it('keeps a subscription through the deletion of the router pod, to the final state', async () => {
    const started = Date.now();
    const router = podOf('router');
    const video = await upload('long2.mp4', makeLongAudio(cluster.ffmpegPath, 600));
    const watched = await watchThroughOutage(reelflux, video.id, () => {
      k(['delete', 'pod', router, '--wait=false']);
    });
    expect(watched.interrupted).toBe(true);
    expect(watched.statuses.at(-1)).toBe('SUCCEEDED');
    record('router pod deleted', started);
  }, 300_000);

  it('rolls media and the router while uploads and queries run, and no request fails', async () => {
    const started = Date.now();
    const failures: string[] = [];
    let requests = 0;
    let rolling = true;
    const load = (async () => {
      for (let i = 0; rolling; i += 1) {
        requests += 1;
        try {
          if (i % 5 === 0) await upload(`roll-${i}.mp4`, makeVideo(cluster.ffmpegPath, 1));
          else await reelflux.me();
        } catch (error) {
          failures.push((error as Error).message.slice(0, 160));
        }
      }
    })();
    try {
      k(['rollout', 'restart', 'deployment/media', 'deployment/router']);
      await kubectlAsync(['rollout', 'status', 'deployment/media', '--timeout=180s']);
      await kubectlAsync(['rollout', 'status', 'deployment/router', '--timeout=180s']);
    } finally {
      rolling = false;
      await load;
    }
    record('rolling restart', started, `${requests} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
  }, 400_000);

  it('completes conversions queued before the RabbitMQ pod was deleted, once it is back', async () => {
    const started = Date.now();
    k(['scale', 'deployment/worker', '--replicas=0']);
    await kubectlAsync(['rollout', 'status', 'deployment/worker', '--timeout=120s']);
    const queued = [
      await upload('queued-1.mp4', makeVideo(cluster.ffmpegPath, 2)),
      await upload('queued-2.mp4', makeVideo(cluster.ffmpegPath, 2)),
    ];
    k(['delete', 'pod', 'rabbitmq-0']);
    await kubectlAsync(['rollout', 'status', 'statefulset/rabbitmq', '--timeout=180s']);
    await kubectlAsync(['wait', '--for=condition=Ready', 'pod/rabbitmq-0', '--timeout=180s']);
    k(['scale', 'deployment/worker', '--replicas=1']);
    for (const video of queued) expect((await finalState(video.id))?.status).toBe('SUCCEEDED');
    record('RabbitMQ pod deleted', started, `${queued.length} queued jobs done`);
  }, 400_000);

  it('spreads jobs across three worker pods', async () => {
    const started = Date.now();
    // The HPA owns the worker's replica count (at most 2 in the minikube overlay): a plain
    // `kubectl scale` to 3 was taken back to 2 by it, so its bounds are what is set.
    k([
      'patch',
      'hpa',
      'worker',
      '--type=merge',
      '-p',
      '{"spec":{"minReplicas":3,"maxReplicas":3}}',
    ]);
    await until(() => pods('worker').length === 3, 120_000);
    await kubectlAsync(['rollout', 'status', 'deployment/worker', '--timeout=180s']);
    const videos = [];
    for (let i = 0; i < 9; i += 1)
      videos.push(await upload(`spread-${i}.mp4`, makeLongAudio(cluster.ffmpegPath, 120)));
    const conversions: string[] = [];
    for (const video of videos) {
      const last = await finalState(video.id);
      expect(last?.status).toBe('SUCCEEDED');
      conversions.push(last?.id ?? '');
    }
    // Each worker logs the conversions it ran, by id.
    const byPod = pods('worker').map((pod) => {
      const log = k(['logs', pod.metadata.name]);
      return conversions.filter((id) => log.includes(id)).length;
    });
    record('3 workers', started, `jobs per pod ${byPod.join('/')}`);
    expect(byPod).toHaveLength(3);
    expect(byPod.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
  }, 600_000);

  it('has an HPA that finds its Deployment (metrics: see docs/operations.md)', () => {
    const hpa = JSON.parse(k(['get', 'hpa', 'worker', '-o', 'json'])) as {
      status: { conditions?: { type: string; status: string; reason: string }[] };
    };
    const able = hpa.status.conditions?.find((c) => c.type === 'AbleToScale');
    const active = hpa.status.conditions?.find((c) => c.type === 'ScalingActive');
    outcomes.push(
      `HPA AbleToScale ${able?.status} (${able?.reason}), ScalingActive ${active?.status} (${active?.reason})`,
    );
    expect(able?.status).toBe('True');
  });

  it('has every NetworkPolicy select live pods, and every peer it names exist', () => {
    // The bridge CNI does not enforce NetworkPolicies: their selectors are checked instead.
    const live = (JSON.parse(k(['get', 'pods', '-o', 'json'])) as { items: Pod[] }).items;
    const policies = (
      JSON.parse(k(['get', 'networkpolicy', '-o', 'json'])) as { items: NetworkPolicyObject[] }
    ).items;
    const problems: string[] = [];
    for (const policy of policies) {
      const name = policy.metadata.name;
      if (!live.some((pod) => selects(policy.spec.podSelector, pod.metadata.labels))) {
        problems.push(`${name} selects no pod`);
      }
      const peers = [
        ...(policy.spec.ingress ?? []).flatMap((rule) => rule.from ?? []),
        ...(policy.spec.egress ?? []).flatMap((rule) => rule.to ?? []),
      ];
      for (const peer of peers) {
        if (peer.namespaceSelector || !peer.podSelector) continue;
        if (!live.some((pod) => selects(peer.podSelector ?? {}, pod.metadata.labels))) {
          problems.push(`${name}: peer ${JSON.stringify(peer.podSelector)} matches no pod`);
        }
      }
    }
    outcomes.push(`${policies.length} NetworkPolicies checked against live labels`);
    expect(problems).toEqual([]);
  });

  async function until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`not so within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  function kubectlAsync(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        cluster.bin.kubectl,
        ['--kubeconfig', cluster.kubeconfig, '-n', NAMESPACE, ...args],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)),
      );
    });
  }
});
