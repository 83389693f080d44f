import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Network, type StartedNetwork, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { postPublish } from '../support/http-publish.js';
import {
  containerEnvironment,
  findObject,
  kubeDnsNames,
  podContainer,
  workloadContainer,
} from '../support/kubernetes-pod.js';
import { type KubernetesObject, kustomizeBuild } from '../support/kustomize-lite.js';
import { buildPushImage } from '../support/push-cluster-container.js';
import { connectOnEveryNode, settle, subscribe, type TestClient } from '../support/test-client.js';
import { waitFor } from '../support/wait.js';

/**
 * The nginx of deploy/kubernetes, run the way its pods would run it, in front of nodes found the
 * way Kubernetes publishes them. Everything comes from the rendered try-it overlay: nginx's
 * command, environment (with $(POD_NAMESPACE) expanded), files (its ConfigMap), user, read-only
 * root filesystem, emptyDirs and sysctl; the nodes' and Redis's likewise, the nodes from the
 * image built from the repository's Dockerfile. Docker's DNS plays kube-dns: each node answers to
 * its pod name under the StatefulSet's headless Service and to the ready nodes' Service, and
 * nginx's /etc/resolv.conf points at it. Not Kubernetes: no kubelet (no probes, no preStop), no
 * EndpointSlices (a stopped node's names go when its container stops).
 */

const NODES = 3;
/** Messages published while the clients poll: each ends a poll, and the next one must find its node. */
const POLLS = 5;

let objects: KubernetesObject[];
let network: StartedNetwork | undefined;
const containers = new Map<string, StartedTestContainer>();
let volumesDir: string | undefined;
let url: string;
let apiKey: string;
let nginxLog = '';
/** Starts the node pod `name` (its container, under its kube-dns names). */
let startNode: (name: string) => Promise<void>;
const clients: TestClient[] = [];
/** Disconnects seen per client, by socket id at connect. */
const disconnects = new Map<TestClient, string[]>();

/** The node addresses push-nginx.sh rendered last (it logs each change). */
const nodeList = () =>
  [...nginxLog.matchAll(/push-nginx: nodes: ([^\n]*)/g)].at(-1)?.[1]?.trim().split(/\s+/) ?? [];

/** The requests of an Engine.IO session that its node did not know (HTTP 400 through nginx). */
const sessionUnknown = () =>
  nginxLog.split('\n').filter((line) => /"[A-Z]+ \/socket\.io\/\?[^"]*sid=[^"]*" 400 /.test(line));

beforeAll(async () => {
  objects = await kustomizeBuild(join(REPO_ROOT, 'deploy', 'kubernetes', 'try-it'));
  const statefulSet = findObject(objects, 'StatefulSet', 'push-node');
  const namespace = statefulSet?.metadata.namespace;
  if (namespace === undefined) throw new Error('the try-it StatefulSet has no namespace');
  const secrets = containerEnvironment(
    objects,
    workloadContainer(objects, 'StatefulSet', 'push-node', 'node').container,
    { name: 'push-node-0', namespace },
  );
  apiKey = secrets.PUBLISH_API_KEYS?.split(',')[0] ?? '';

  const nodeImage = workloadContainer(objects, 'StatefulSet', 'push-node', 'node').container.image;
  const images = { [nodeImage ?? '']: await buildPushImage() };
  network = await new Network().start();
  volumesDir = await mkdtemp(join(tmpdir(), 'kubernetes-pods-'));
  const pod = (kind: string, workload: string, container: string, name: string) =>
    podContainer({
      objects,
      kind,
      workload,
      container,
      pod: { name, namespace },
      images,
      volumesDir: volumesDir ?? '',
    });

  // Each pod answers to the names kube-dns would give it, from the Services that select it.
  const names = (kind: string, workload: string, name: string) =>
    kubeDnsNames(objects, kind, workload, { name, namespace });
  const redis = (await pod('Deployment', 'redis', 'redis', 'redis-0'))
    .withNetwork(network)
    .withNetworkAliases(...names('Deployment', 'redis', 'redis-0'))
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'));
  containers.set('redis', await redis.start());

  startNode = async (name: string) => {
    const node = (await pod('StatefulSet', 'push-node', 'node', name))
      .withNetwork(network as StartedNetwork)
      .withNetworkAliases(...names('StatefulSet', 'push-node', name))
      .withExposedPorts(3000)
      .withWaitStrategy(Wait.forHttp('/readyz', 3000).forStatusCode(200));
    containers.set(name, await node.start());
  };
  await Promise.all(Array.from({ length: NODES }, (_, i) => startNode(`push-node-${i}`)));

  const nginx = (await pod('Deployment', 'push-nginx', 'nginx', 'push-nginx-0'))
    .withNetwork(network)
    .withExposedPorts(80)
    .withLogConsumer((stream) => {
      stream.on('data', (chunk: Buffer | string) => {
        nginxLog += String(chunk);
      });
    })
    .withWaitStrategy(Wait.forHttp('/healthz', 80).forStatusCode(200));
  const started = await nginx.start().catch((error: unknown) => {
    throw new Error(`nginx did not start; its log:\n${nginxLog}`, { cause: error });
  });
  containers.set('nginx', started);
  url = `http://${started.getHost()}:${started.getMappedPort(80)}`;
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.allSettled([...containers.values()].map((container) => container.stop()));
  await network?.stop().catch(() => {});
  if (volumesDir !== undefined) await rm(volumesDir, { recursive: true, force: true });
});

const nodeIds = Array.from({ length: NODES }, (_, i) => `push-node-${i}`);

describe('nginx of deploy/kubernetes, nodes found by DNS', () => {
  it('lists every ready node of the headless Service in nginx', () => {
    const nodes = nodeList();
    expect(nodes).toHaveLength(NODES);
    for (const node of nodes) expect(node).toMatch(/^\d+\.\d+\.\d+\.\d+:3000$/);
  });

  it('spreads long-polling clients over every node, and routes each poll to its node', async () => {
    clients.push(
      ...(await connectOnEveryNode(url, nodeIds, {
        transports: ['polling'],
        reconnection: true,
        perNode: 2,
      })),
    );
    for (const client of clients) {
      const seen: string[] = [];
      disconnects.set(client, seen);
      client.socket.on('disconnect', (reason) => seen.push(reason));
      await subscribe(client, 'k8s');
    }
    const sids = clients.map((client) => client.sid);
    for (let n = 1; n <= POLLS; n++) {
      const response = await postPublish(url, apiKey, { room: 'k8s', data: { n } });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      await waitFor(() => clients.every((client) => client.receivedWithId(id) === 1), {
        what: `message ${n} on every client`,
      });
    }
    await settle();
    expect(new Set(clients.map((client) => client.node))).toEqual(new Set(nodeIds));
    for (const client of clients) {
      expect(client.received.map(({ envelope }) => envelope.data)).toEqual(
        Array.from({ length: POLLS }, (_, i) => ({ n: i + 1 })),
      );
      expect(disconnects.get(client)).toEqual([]);
      expect(client.socket.io.engine.transport.name).toBe('polling');
    }
    // The same sessions throughout: no client had to start over.
    expect(clients.map((client) => client.sid)).toEqual(sids);
    expect(sessionUnknown()).toEqual([]);
  });

  it('moves the clients of a node that stops to the others, and nginx drops it', async () => {
    const leaving = 'push-node-2';
    const moving = clients.filter((client) => client.node === leaving);
    expect(moving.length).toBeGreaterThan(0);
    const { spec } = workloadContainer(objects, 'StatefulSet', 'push-node', 'node');
    const graceSeconds = spec.terminationGracePeriodSeconds ?? 30;
    // SIGTERM, SIGKILL after the pod's grace period: the node drains, then its names go. (Up to
    // the grace period: hence this test's longer timeout.)
    await containers.get(leaving)?.stop({ timeout: graceSeconds * 1000 });
    containers.delete(leaving);
    await waitFor(
      () => moving.every((client) => client.node !== leaving && client.socket.connected),
      {
        timeoutMs: 30_000,
        what: `the clients of ${leaving} back on the other nodes`,
      },
    );
    await waitFor(() => nodeList().length === NODES - 1, {
      timeoutMs: 15_000,
      what: 'nginx listing the remaining nodes',
    });
    for (const client of moving) await subscribe(client, 'k8s');
    const response = await postPublish(url, apiKey, { room: 'k8s', data: { after: leaving } });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    await waitFor(() => clients.every((client) => client.receivedWithId(id) === 1), {
      what: 'the message after the stop on every client',
    });
    expect(new Set(clients.map((client) => client.node))).toEqual(new Set(nodeIds.slice(0, 2)));
  }, 120_000);

  it('keeps its last node list while the name resolves to nothing, and takes the next one found', async () => {
    for (const client of clients.splice(0)) client.close();
    const before = nodeList();
    expect(before).toHaveLength(NODES - 1);
    // Every node gone: the ready nodes' name resolves to no address (as in a DNS outage).
    await Promise.all(
      nodeIds.slice(0, 2).map(async (name) => {
        await containers.get(name)?.stop({ timeout: 0 });
        containers.delete(name);
      }),
    );
    await waitFor(() => /resolves to no address; keeping the last node list/.test(nginxLog), {
      timeoutMs: 15_000,
      what: 'push-nginx.sh noticing the empty answer',
    });
    expect(nodeList()).toEqual(before);
    // The watcher lives on: a node that appears is listed, alone.
    await startNode('push-node-0');
    await waitFor(() => nodeList().length === 1, {
      timeoutMs: 20_000,
      what: 'nginx listing the node that came back',
    });
    // "nodes:" is said once the reload is asked for; until nginx's new workers take over, the old
    // ones (with only the stopped nodes) answer 503 unavailable.
    await waitFor(
      async () => (await postPublish(url, apiKey, { room: 'k8s', data: 'back' })).status === 202,
      {
        timeoutMs: 20_000,
        intervalMs: 250,
        what: 'a publish through nginx reaching the node that came back',
      },
    );
  }, 120_000);
});
