import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TypeMeta } from '@kubernetes-models/base';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ConfigMap,
  type IContainer,
  type IPodSpec,
  type IProbe,
  Secret,
  Service,
} from 'kubernetes-models/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { loadConfig } from '../../src/config/config.js';
import { unknownFields } from '../support/kubernetes-fields.js';
import { containerEnvironment, workloadContainer } from '../support/kubernetes-pod.js';
import {
  isRecord,
  type KubernetesObject,
  kustomizeBuild,
  podSpecOf,
} from '../support/kustomize-lite.js';

/**
 * deploy/kubernetes, rendered offline (test/support/kustomize-lite.ts) and checked: every object
 * against the Kubernetes API's schemas and field lists (kubernetes-models), then what the cluster
 * needs of them — the wiring between the objects, the drain's timings, the security settings,
 * the nginx files and the sizing. Each check is a function that lists problems; the last block
 * breaks the rendered manifests one way at a time and shows that the matching check notices.
 */

const KUBERNETES = join(REPO_ROOT, 'deploy', 'kubernetes');
/** The objects the checks look for by name. */
const NODE = 'push-node';
const NGINX = 'push-nginx';
const NGINX_FILES = ['nginx.conf', 'push-cluster.conf', 'push-nginx.sh'] as const;
/** Secrets the base refers to and leaves to an overlay (docs/kubernetes.md). */
const EXTERNAL_SECRETS = new Set(['push-node-secrets', 'push-redis']);
/** Seconds to spare between the end of the node's own shutdown deadline and the SIGKILL. */
const GRACE_MARGIN_SECONDS = 5;
/** A node's CPU per connect, by long-polling (the dearer transport; docs/performance.md). */
const CONNECT_CPU_SECONDS = 0.002;

type Objects = readonly KubernetesObject[];
/** One check: the problems it finds, `[]` when there are none. */
type Check = (objects: Objects) => string[] | Promise<string[]>;

const rendered: Record<'base' | 'try-it', KubernetesObject[]> = { base: [], 'try-it': [] };

beforeAll(async () => {
  rendered.base = await kustomizeBuild(join(KUBERNETES, 'base'));
  rendered['try-it'] = await kustomizeBuild(join(KUBERNETES, 'try-it'));
});

// ---------------------------------------------------------------------------------------------
// Access to the rendered objects

/** Every object that `guard` (a kubernetes-models `is`) accepts, typed as its model. */
function all<T extends TypeMeta>(objects: Objects, guard: (value: unknown) => value is T): T[] {
  const found: T[] = [];
  for (const object of objects) if (guard(object)) found.push(object);
  return found;
}

/** The object named `name` that `guard` accepts, or `undefined`. */
function named<T extends TypeMeta & { metadata?: { name?: string } }>(
  objects: Objects,
  guard: (value: unknown) => value is T,
  name: string,
): T | undefined {
  return all(objects, guard).find((object) => object.metadata?.name === name);
}

/** A workload's pods: its template's labels and spec. */
interface Workload {
  kind: string;
  name: string;
  labels: Record<string, string>;
  spec: IPodSpec;
}

function workloads(objects: Objects): Workload[] {
  return objects.flatMap((object) => {
    const spec = podSpecOf(object);
    const template = isRecord(object.spec) ? object.spec.template : undefined;
    const metadata = isRecord(template) ? template.metadata : undefined;
    const labels = isRecord(metadata) && isRecord(metadata.labels) ? metadata.labels : {};
    return spec === undefined
      ? []
      : [
          {
            kind: object.kind,
            name: object.metadata.name,
            labels: labels as Record<string, string>,
            // Plain JSON, typed as the API's pod spec: the schema check validates it.
            spec: spec as unknown as IPodSpec,
          },
        ];
  });
}

/** The container `container` of workload `kind`/`name`, or `undefined`. */
function containerOf(objects: Objects, kind: string, name: string, container: string) {
  try {
    return workloadContainer(objects, kind, name, container);
  } catch {
    return undefined;
  }
}

const nodeContainer = (objects: Objects) => containerOf(objects, 'StatefulSet', NODE, 'node');
const nginxContainer = (objects: Objects) => containerOf(objects, 'Deployment', NGINX, 'nginx');

/** A literal env value of `container`, or `undefined`. */
const envValue = (container: IContainer, name: string) =>
  container.env?.find((variable) => variable.name === name)?.value;

/** An env value as a whole number, or `undefined`. */
function envNumber(container: IContainer, name: string): number | undefined {
  const value = envValue(container, name);
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** True when every key of `selector` is in `labels` with the same value. */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels[key] === value);

/** The workloads whose pods `selector` selects. */
const selected = (objects: Objects, selector: Record<string, string> | undefined) =>
  workloads(objects).filter((workload) => selects(selector, workload.labels));

/** A port given by number or by name, as a number in `container`. */
function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

/** The seconds a preStop hook waits (`sleep` action, or `exec` of `sleep N`), 0 without one. */
function preStopSeconds(container: IContainer): number {
  const hook = container.lifecycle?.preStop;
  if (hook === undefined) return 0;
  if (hook.sleep !== undefined) return hook.sleep.seconds;
  const [program, seconds, ...rest] = hook.exec?.command ?? [];
  if (program === 'sleep' && seconds !== undefined && /^\d+$/.test(seconds) && rest.length === 0) {
    return Number(seconds);
  }
  return Number.NaN;
}

/** A resource quantity (`250m`, `2`, `512Mi`) as a number of cores or bytes. */
function quantity(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(value));
  if (match === null) return Number.NaN;
  const factors: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (match[2] === undefined ? 1 : (factors[match[2]] ?? Number.NaN));
}

/** The ConfigMap or Secret `name`'s data (a Secret's decoded), or `undefined`. */
function dataOf(objects: Objects, kind: 'ConfigMap' | 'Secret', name: string) {
  if (kind === 'ConfigMap') return named(objects, ConfigMap.is, name)?.data;
  const secret = named(objects, Secret.is, name);
  if (secret === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]),
  );
}

/** The ConfigMap the nginx Deployment mounts its files from. */
function nginxConfigMap(objects: Objects) {
  const volume = nginxContainer(objects)?.spec.volumes?.find((v) => v.configMap !== undefined);
  return volume?.configMap?.name === undefined
    ? undefined
    : dataOf(objects, 'ConfigMap', volume.configMap.name);
}

// ---------------------------------------------------------------------------------------------
// The checks

const MODELS = [
  StatefulSet,
  Deployment,
  Service,
  ConfigMap,
  Secret,
  PodDisruptionBudget,
  HorizontalPodAutoscaler,
];

/** Every object valid against its API schema (kubernetes-models), without unknown fields. */
const schema: Check = (objects) =>
  objects.flatMap((object) => {
    const where = `${object.kind} ${object.metadata.name}`;
    const Model = MODELS.find((model) => model.is(object));
    if (Model === undefined) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
    try {
      new Model(object as never).validate();
    } catch (error) {
      return [`${where}: ${error instanceof Error ? error.message : String(error)}`];
    }
    return unknownFields(object).map((field) => `${where}: unknown field ${field}`);
  });

/** Each node's id is its pod's name, which its headless Service makes resolvable. */
const nodeIdentity: Check = (objects) => {
  const statefulSet = named(objects, StatefulSet.is, NODE);
  const node = nodeContainer(objects);
  if (statefulSet?.spec === undefined || node === undefined) return ['no node StatefulSet'];
  const problems: string[] = [];
  const nodeId = node.container.env?.find((variable) => variable.name === 'NODE_ID');
  if (nodeId?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') {
    problems.push('NODE_ID is not the pod name (downward API metadata.name)');
  }
  // In DNS mode nginx routes <node id>.<domain>: an id must be one DNS label.
  if (!/^[a-z0-9]([a-z0-9-]{0,55}[a-z0-9])?$/.test(NODE)) {
    problems.push(`${NODE}-N is not a DNS label`);
  }
  const service = named(objects, Service.is, statefulSet.spec.serviceName ?? '');
  if (service?.spec === undefined) {
    problems.push(`serviceName ${statefulSet.spec.serviceName} is no Service`);
  } else {
    if (service.spec.clusterIP !== 'None') problems.push('the serviceName Service is not headless');
    if (service.spec.publishNotReadyAddresses !== true) {
      problems.push('the serviceName Service hides not-ready pods: a draining node is unreachable');
    }
    const pods = selected(objects, service.spec.selector).map((w) => w.name);
    if (pods.join() !== NODE)
      problems.push(`the serviceName Service selects ${pods.join() || 'no pods'}`);
  }
  return problems;
};

/** Every Service selects one workload's pods, on ports those pods have. */
const services: Check = (objects) =>
  all(objects, Service.is).flatMap((service) => {
    const name = service.metadata?.name;
    const pods = selected(objects, service.spec?.selector);
    const [workload] = pods;
    if (pods.length !== 1 || workload === undefined) {
      return [`Service ${name} selects ${pods.map((w) => w.name).join() || 'no pods'}`];
    }
    return (service.spec?.ports ?? []).flatMap((port) => {
      const target = port.targetPort ?? port.port;
      const found = workload.spec.containers.some((c) => portNumber(c, target) !== undefined);
      return found ? [] : [`Service ${name}: ${workload.name} has no port ${target}`];
    });
  });

/** The node's probes: readiness on /readyz, liveness (and startup) on /healthz, on its port. */
const probes: Check = (objects) => {
  const node = nodeContainer(objects);
  if (node === undefined) return ['no node container'];
  const port = envNumber(node.container, 'PORT');
  const problems = port === 3000 ? [] : [`PORT is ${port}, the image's is 3000`];
  const expect = (what: string, probe: IProbe | undefined, path: string) => {
    if (probe?.httpGet?.path !== path) problems.push(`${what} is not GET ${path}`);
    else if (portNumber(node.container, probe.httpGet.port) !== port) {
      problems.push(`${what} asks port ${probe.httpGet.port}, not PORT ${port}`);
    }
  };
  expect('readinessProbe', node.container.readinessProbe, '/readyz');
  // Not /readyz: a Redis outage would restart every node.
  expect('livenessProbe', node.container.livenessProbe, '/healthz');
  if (node.container.startupProbe !== undefined) {
    expect('startupProbe', node.container.startupProbe, '/healthz');
  }
  return problems;
};

/**
 * The drain fits: SHUTDOWN_TIMEOUT_MS exceeds DRAIN_DELAY_MS + DRAIN_SPREAD_MS (the node refuses
 * to start otherwise), the grace period holds the preStop hook and the node's deadline with
 * seconds to spare, and the other nodes can take a full node's clients over the spread.
 */
const drain: Check = (objects) => {
  const node = nodeContainer(objects);
  const hpa = named(objects, HorizontalPodAutoscaler.is, NODE);
  if (node === undefined) return ['no node container'];
  const problems: string[] = [];
  const [delay, spread, shutdown, clients] = [
    'DRAIN_DELAY_MS',
    'DRAIN_SPREAD_MS',
    'SHUTDOWN_TIMEOUT_MS',
    'MAX_CONNECTIONS',
  ].map((name) => envNumber(node.container, name));
  if (
    delay === undefined ||
    spread === undefined ||
    shutdown === undefined ||
    clients === undefined
  ) {
    return ['DRAIN_DELAY_MS, DRAIN_SPREAD_MS, SHUTDOWN_TIMEOUT_MS and MAX_CONNECTIONS must be set'];
  }
  if (shutdown <= delay + spread) {
    problems.push(
      `SHUTDOWN_TIMEOUT_MS ${shutdown} <= DRAIN_DELAY_MS + DRAIN_SPREAD_MS ${delay + spread}`,
    );
  }
  const preStop = preStopSeconds(node.container);
  const grace = node.spec.terminationGracePeriodSeconds ?? 30;
  if (!(preStop > 0)) problems.push('the node has no preStop sleep');
  if (preStop + shutdown / 1000 + GRACE_MARGIN_SECONDS > grace) {
    problems.push(
      `terminationGracePeriodSeconds ${grace} < preStop ${preStop} s + SHUTDOWN_TIMEOUT_MS ${shutdown / 1000} s + ${GRACE_MARGIN_SECONDS} s`,
    );
  }
  // A drained node's clients reconnect over DRAIN_SPREAD_MS; the others (at least minReplicas - 1)
  // must have the CPU for their handshakes within their limits.
  const others = (hpa?.spec?.minReplicas ?? 1) - 1;
  const cpu = quantity(node.container.resources?.limits?.cpu) ?? 0;
  const needed = (clients * CONNECT_CPU_SECONDS) / (spread / 1000);
  if (needed > others * cpu) {
    problems.push(
      `a drained node's ${clients} clients need ${needed.toFixed(1)} cores over ${spread} ms; ${others} other node(s) have ${others * cpu}`,
    );
  }
  for (const workload of workloads(objects)) {
    for (const container of workload.spec.containers) {
      const seconds = preStopSeconds(container);
      if (Number.isNaN(seconds) || seconds >= (workload.spec.terminationGracePeriodSeconds ?? 30)) {
        problems.push(`${workload.name}/${container.name}: preStop does not fit the grace period`);
      }
    }
  }
  return problems;
};

/** Every container non-root, on a read-only root filesystem, without privileges or capabilities. */
const security: Check = (objects) =>
  workloads(objects).flatMap(({ name, spec }) => {
    const pod = spec.securityContext ?? {};
    const problems: string[] = [];
    if (spec.automountServiceAccountToken !== false) problems.push(`${name}: API token mounted`);
    if (spec.enableServiceLinks !== false)
      problems.push(`${name}: service links in the environment`);
    if (spec.hostNetwork === true || spec.hostPID === true || spec.hostIPC === true) {
      problems.push(`${name}: shares a host namespace`);
    }
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      const own = container.securityContext ?? {};
      const where = `${name}/${container.name}`;
      if ((own.runAsNonRoot ?? pod.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot`);
      const user = own.runAsUser ?? pod.runAsUser;
      if (user === undefined || user === 0) problems.push(`${where}: runs as user ${user}`);
      if (own.readOnlyRootFilesystem !== true) problems.push(`${where}: writable root filesystem`);
      if (own.allowPrivilegeEscalation !== false) problems.push(`${where}: privilege escalation`);
      if (own.privileged === true) problems.push(`${where}: privileged`);
      if (!(own.capabilities?.drop ?? []).includes('ALL'))
        problems.push(`${where}: capabilities kept`);
      if ((own.capabilities?.add ?? []).length > 0) problems.push(`${where}: capabilities added`);
      if ((own.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') {
        problems.push(`${where}: seccomp profile not RuntimeDefault`);
      }
    }
    return problems;
  });

/**
 * Every volume mounted exists; every ConfigMap key, item and subPath mounted or referenced
 * exists; every ConfigMap and Secret a container reads exists (in the base, the Secrets an
 * overlay brings excepted).
 */
const references: Check = (objects) =>
  workloads(objects).flatMap(({ name, spec }) => {
    const problems: string[] = [];
    const exists = (kind: 'ConfigMap' | 'Secret', ref: string) =>
      dataOf(objects, kind, ref) !== undefined ||
      (kind === 'Secret' && EXTERNAL_SECRETS.has(ref) && !objects.some((o) => o.kind === 'Secret'));
    for (const container of spec.containers) {
      const where = `${name}/${container.name}`;
      for (const mount of container.volumeMounts ?? []) {
        const volume = spec.volumes?.find((candidate) => candidate.name === mount.name);
        if (volume === undefined) {
          problems.push(`${where}: mounts volume ${mount.name}, which the pod lacks`);
          continue;
        }
        if (volume.configMap === undefined) continue;
        const data = dataOf(objects, 'ConfigMap', volume.configMap.name ?? '');
        if (data === undefined) {
          problems.push(`${where}: no ConfigMap ${volume.configMap.name}`);
          continue;
        }
        const items =
          volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const item of items) {
          if (data[item.key] === undefined)
            problems.push(`${where}: ConfigMap has no key ${item.key}`);
        }
        if (mount.subPath !== undefined && !items.some((item) => item.path === mount.subPath)) {
          problems.push(`${where}: subPath ${mount.subPath} is not in volume ${mount.name}`);
        }
      }
      for (const from of container.envFrom ?? []) {
        if (from.configMapRef !== undefined && !exists('ConfigMap', from.configMapRef.name ?? '')) {
          problems.push(`${where}: no ConfigMap ${from.configMapRef.name}`);
        }
        if (from.secretRef !== undefined && !exists('Secret', from.secretRef.name ?? '')) {
          problems.push(`${where}: no Secret ${from.secretRef.name}`);
        }
      }
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.configMapKeyRef ?? variable.valueFrom?.secretKeyRef;
        if (ref === undefined || ref.optional === true) continue;
        const kind = variable.valueFrom?.configMapKeyRef !== undefined ? 'ConfigMap' : 'Secret';
        if (dataOf(objects, kind, ref.name ?? '')?.[ref.key] === undefined) {
          problems.push(`${where}: ${variable.name} refers to a missing ${kind} key`);
        }
      }
    }
    return problems;
  });

/**
 * nginx runs the repository's files unchanged: the copies in deploy/ and the ConfigMap hold
 * nginx/'s bytes, they are mounted where nginx.conf and the script expect them, and every path
 * nginx or the script writes (and every generated file the config includes) is on an emptyDir.
 */
const nginxFiles: Check = async (objects) => {
  const problems: string[] = [];
  const data = nginxConfigMap(objects);
  const nginx = nginxContainer(objects);
  if (data === undefined || nginx === undefined) return ['no nginx Deployment with a ConfigMap'];
  const repo: Record<string, string> = {};
  for (const file of NGINX_FILES) {
    repo[file] = await readFile(join(REPO_ROOT, 'nginx', file), 'utf8');
    const copy = await readFile(join(KUBERNETES, 'base', 'nginx', file), 'utf8');
    if (copy !== repo[file])
      problems.push(`deploy/kubernetes/base/nginx/${file} differs from nginx/${file}`);
    if (data[file] !== repo[file])
      problems.push(`the ConfigMap's ${file} differs from nginx/${file}`);
  }
  if (Object.keys(data).sort().join() !== [...NGINX_FILES].sort().join()) {
    problems.push(`the ConfigMap holds ${Object.keys(data).join(', ')}`);
  }
  const { container, spec } = nginx;
  if (
    container.command?.join(' ') !== 'sh /etc/nginx/push-nginx.sh run' ||
    container.args !== undefined
  ) {
    problems.push(`nginx runs ${container.command?.join(' ')}, not push-nginx.sh run`);
  }
  const mounts = container.volumeMounts ?? [];
  const volumeOf = (path: string) => {
    const mount = mounts.find((m) => m.mountPath === path);
    return { mount, volume: spec.volumes?.find((v) => v.name === mount?.name) };
  };
  for (const [path, key] of [
    ['/etc/nginx/nginx.conf', 'nginx.conf'],
    ['/etc/nginx/push-nginx.sh', 'push-nginx.sh'],
  ] as const) {
    const { mount, volume } = volumeOf(path);
    const item = volume?.configMap?.items?.find((i) => i.path === mount?.subPath);
    if (item?.key !== key) problems.push(`${path} is not the ConfigMap's ${key}`);
  }
  // The whole conf.d directory, so that the image's default.conf (also on port 80) is gone.
  const site = volumeOf('/etc/nginx/conf.d');
  const siteItems = site.volume?.configMap?.items?.map((i) => `${i.key}:${i.path}`).join();
  if (site.mount?.subPath !== undefined || siteItems !== 'push-cluster.conf:push-cluster.conf') {
    problems.push('/etc/nginx/conf.d is not a directory of push-cluster.conf alone');
  }
  const writable = (path: string) =>
    mounts.some((m) => {
      const volume = spec.volumes?.find((v) => v.name === m.name);
      return (
        volume?.emptyDir !== undefined &&
        (path === m.mountPath || path.startsWith(`${m.mountPath}/`))
      );
    });
  const generated = envValue(container, 'PUSH_NGINX_GENERATED') ?? '/etc/nginx/push';
  const config = `${repo['nginx.conf']}\n${repo['push-cluster.conf']}`;
  const written = [
    `${generated}/nodes.conf`,
    ...[...config.matchAll(/^\s*(?:pid|client_body_temp_path|proxy_temp_path)\s+(\S+);/gm)].map(
      (m) => m[1] ?? '',
    ),
    // Included files that are not in the image nor the ConfigMap: rendered by push-nginx.sh.
    ...[...config.matchAll(/^\s*include\s+(\S+);/gm)]
      .map((m) => m[1] ?? '')
      .filter((path) => !path.startsWith('/etc/nginx/conf.d/') && path !== '/etc/nginx/mime.types'),
    // The temporary paths compiled into the official image and into Debian's package.
    '/var/cache/nginx/client_temp',
    '/var/lib/nginx/body',
  ];
  for (const path of written) {
    if (!writable(path)) problems.push(`nginx writes ${path}, which is on no emptyDir`);
  }
  if (!written.some((path) => path.startsWith(`${generated}/`) && path.endsWith('main.conf'))) {
    problems.push(`nginx.conf does not include ${generated}/main.conf`);
  }
  return problems;
};

/**
 * nginx finds the nodes as push-nginx.sh expects in Kubernetes: new sessions over the ready pods'
 * headless Service, a session's requests to its pod under the StatefulSet's Service, on the
 * nodes' port, with fully qualified names; it may listen on its port without root; one worker
 * per core of its CPU limit.
 */
const nginxRouting: Check = async (objects) => {
  const nginx = nginxContainer(objects);
  const node = nodeContainer(objects);
  const statefulSet = named(objects, StatefulSet.is, NODE);
  const deployment = named(objects, Deployment.is, NGINX);
  if (nginx === undefined || node === undefined || statefulSet === undefined)
    return ['no nginx or nodes'];
  const { container, spec } = nginx;
  const problems: string[] = [];
  const env = container.env ?? [];
  const namespaceAt = env.findIndex((v) => v.name === 'POD_NAMESPACE');
  if (env[namespaceAt]?.valueFrom?.fieldRef?.fieldPath !== 'metadata.namespace') {
    problems.push('POD_NAMESPACE is not the pod namespace (downward API)');
  }
  const domain = (name: string) => {
    const at = env.findIndex((v) => v.name === name);
    const value = env[at]?.value ?? '';
    // $(POD_NAMESPACE) expands only when defined earlier in the list.
    if (value.includes('$(POD_NAMESPACE)') && !(namespaceAt >= 0 && namespaceAt < at)) {
      problems.push(`${name} uses $(POD_NAMESPACE) before it is defined`);
    }
    const service = /^([a-z0-9-]+)\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local$/.exec(value)?.[1];
    if (service === undefined)
      problems.push(`${name} is not <service>.$(POD_NAMESPACE).svc.cluster.local`);
    return named(objects, Service.is, service ?? '');
  };
  const ready = domain('PUSH_NODE_DNS');
  if (
    ready?.spec?.clusterIP !== 'None' ||
    ready.spec.publishNotReadyAddresses === true ||
    selected(objects, ready.spec.selector)
      .map((w) => w.name)
      .join() !== NODE
  ) {
    problems.push('PUSH_NODE_DNS is not a headless Service of the ready nodes');
  }
  const sessions = domain('PUSH_SESSION_DOMAIN');
  if (sessions?.metadata?.name !== statefulSet.spec?.serviceName) {
    problems.push("PUSH_SESSION_DOMAIN is not under the StatefulSet's serviceName");
  }
  const nodePort = portNumber(node.container, 'http');
  const pushNodePort = envValue(container, 'PUSH_NODE_PORT') ?? '3000';
  if (pushNodePort !== String(nodePort))
    problems.push(`PUSH_NODE_PORT ${pushNodePort} is not the nodes' ${nodePort}`);
  const cores = quantity(container.resources?.limits?.cpu);
  const workers = envNumber(container, 'PUSH_NGINX_WORKERS');
  if (cores === undefined || workers !== Math.ceil(cores)) {
    problems.push(`PUSH_NGINX_WORKERS ${workers} does not match the CPU limit ${cores}`);
  }
  if (envNumber(container, 'PUSH_MAX_CLIENTS') === undefined)
    problems.push('PUSH_MAX_CLIENTS unset');
  const site = await readFile(join(REPO_ROOT, 'nginx', 'push-cluster.conf'), 'utf8');
  const listen = Number(/^\s*listen\s+(\d+)\b/m.exec(site)?.[1]);
  if (portNumber(container, 'http') !== listen)
    problems.push(`nginx's container port is not ${listen}`);
  const user = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser ?? 0;
  const unprivileged = spec.securityContext?.sysctls?.find(
    (s) => s.name === 'net.ipv4.ip_unprivileged_port_start',
  );
  if (user !== 0 && listen < 1024 && !(Number(unprivileged?.value) <= listen)) {
    problems.push(
      `nginx runs as ${user} and listens on ${listen}: needs ip_unprivileged_port_start`,
    );
  }
  if (deployment?.spec?.replicas !== 2)
    problems.push(`nginx has ${deployment?.spec?.replicas} replicas`);
  const front = all(objects, Service.is).find(
    (s) => selected(objects, s.spec?.selector)[0]?.name === NGINX,
  );
  if (
    !['ClusterIP', 'LoadBalancer'].includes(front?.spec?.type ?? 'ClusterIP') ||
    front?.spec?.clusterIP === 'None'
  ) {
    problems.push('no ClusterIP or LoadBalancer Service in front of nginx');
  }
  return problems;
};

/** The autoscaler scales the node StatefulSet on CPU, which alone sets the node count. */
const autoscaler: Check = (objects) => {
  const hpa = named(objects, HorizontalPodAutoscaler.is, NODE);
  if (hpa?.spec === undefined) return ['no HorizontalPodAutoscaler for the nodes'];
  const problems: string[] = [];
  const { scaleTargetRef: target, minReplicas = 1, maxReplicas, metrics = [] } = hpa.spec;
  const statefulSet = named(objects, StatefulSet.is, target.name);
  if (
    target.kind !== 'StatefulSet' ||
    target.apiVersion !== 'apps/v1' ||
    statefulSet === undefined
  ) {
    problems.push(`the autoscaler targets ${target.apiVersion} ${target.kind} ${target.name}`);
  } else {
    if (statefulSet.spec?.replicas !== undefined) {
      problems.push('the StatefulSet sets replicas, which every apply would reset');
    }
    const node = nodeContainer(objects);
    if (node?.container.resources?.requests?.cpu === undefined)
      problems.push('no CPU request to scale on');
  }
  if (
    !metrics.some((m) => m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization')
  ) {
    problems.push('the autoscaler does not scale on CPU utilization');
  }
  // A drained node needs another to take its clients.
  if (minReplicas < 2 || maxReplicas < minReplicas)
    problems.push(`replicas ${minReplicas}..${maxReplicas}`);
  return problems;
};

/** A disruption budget of one pod at a time for the nodes and for nginx, selecting their pods. */
const budgets: Check = (objects) => {
  const pdbs = all(objects, PodDisruptionBudget.is);
  const problems: string[] = [];
  for (const pdb of pdbs) {
    const pods = selected(objects, pdb.spec?.selector?.matchLabels);
    if (pods.length !== 1)
      problems.push(
        `PDB ${pdb.metadata?.name} selects ${pods.map((w) => w.name).join() || 'nothing'}`,
      );
    if (pdb.spec?.maxUnavailable !== 1)
      problems.push(`PDB ${pdb.metadata?.name}: maxUnavailable ${pdb.spec?.maxUnavailable}`);
  }
  for (const name of [NODE, NGINX]) {
    if (!pdbs.some((pdb) => selected(objects, pdb.spec?.selector?.matchLabels)[0]?.name === name)) {
      problems.push(`no PDB for ${name}`);
    }
  }
  return problems;
};

/** Every container requests and limits CPU and memory, requests within limits. */
const resources: Check = (objects) =>
  workloads(objects).flatMap(({ name, spec }) =>
    spec.containers.flatMap((container) =>
      (['cpu', 'memory'] as const).flatMap((resource) => {
        const request = quantity(container.resources?.requests?.[resource]);
        const limit = quantity(container.resources?.limits?.[resource]);
        const where = `${name}/${container.name} ${resource}`;
        if (request === undefined || limit === undefined) return [`${where}: no request or limit`];
        if (!(request > 0 && request <= limit))
          return [`${where}: request ${request} > limit ${limit}`];
        return [];
      }),
    ),
  );

/** The images: the project's under the kustomization's `images` name and version, and the official nginx (and Redis). */
const images: Check = async (objects) => {
  const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  const expected: Record<string, string> = {
    node: `push-cluster:${version}`,
    nginx: 'nginx:stable-bookworm',
    redis: 'redis:7-bookworm',
  };
  return workloads(objects).flatMap(({ name, spec }) =>
    spec.containers
      .filter((container) => container.image !== expected[container.name])
      .map((container) => `${name}/${container.name} runs ${container.image}`),
  );
};

/** Nodes and nginx spread over hosts, each constraint counting its own pods. */
const spread: Check = (objects) =>
  workloads(objects)
    .filter((workload) => [NODE, NGINX].includes(workload.name))
    .flatMap(({ name, spec, labels }) =>
      (spec.topologySpreadConstraints ?? []).some(
        (c) =>
          c.topologyKey === 'kubernetes.io/hostname' &&
          selects(c.labelSelector?.matchLabels, labels),
      )
        ? []
        : [`${name} does not spread over hosts`],
    );

/** The node's own configuration check accepts the environment a pod gets (try-it/ only). */
const nodeConfig: Check = (objects) => {
  const node = nodeContainer(objects);
  if (node === undefined) return ['no node container'];
  const env = containerEnvironment(objects, node.container, { name: `${NODE}-0`, namespace: 'ns' });
  const result = loadConfig(env);
  if (!result.ok) return result.problems;
  const { config } = result;
  const problems: string[] = [];
  if (config.nodeId !== `${NODE}-0`) problems.push(`node id ${config.nodeId}`);
  if (config.redisUrl === undefined && config.redisClusterNodes === undefined)
    problems.push('no Redis');
  if (config.auth.development) problems.push('no token key: development mode');
  if (config.adminPort !== envNumber(node.container, 'ADMIN_PORT')) problems.push('no ADMIN_PORT');
  return problems;
};

const CHECKS = {
  schema,
  nodeIdentity,
  services,
  probes,
  drain,
  security,
  references,
  nginxFiles,
  nginxRouting,
  autoscaler,
  budgets,
  resources,
  images,
  spread,
} satisfies Record<string, Check>;
type CheckName = keyof typeof CHECKS | 'nodeConfig';
const check = (name: CheckName): Check => (name === 'nodeConfig' ? nodeConfig : CHECKS[name]);

// ---------------------------------------------------------------------------------------------
// The tests

describe.each(['base', 'try-it'] as const)('deploy/kubernetes/%s', (kustomization) => {
  it.each(Object.keys(CHECKS) as CheckName[])('passes %s', async (name) => {
    expect(await check(name)(rendered[kustomization])).toEqual([]);
  });
});

describe('deploy/kubernetes/try-it', () => {
  it("gives the nodes an environment that the node's configuration accepts", async () => {
    expect(await nodeConfig(rendered['try-it'])).toEqual([]);
  });

  it('adds to the base only Redis, its Secrets and its settings, in its namespace', () => {
    const base = new Set(rendered.base.map((o) => `${o.kind}/${o.metadata.name}`));
    const added = rendered['try-it']
      .filter((o) => !base.has(`${o.kind}/${o.metadata.name}`))
      .map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`);
    expect(added.sort()).toEqual([
      'ConfigMap/push-node-config',
      'Deployment/redis',
      'Secret/push-node-secrets',
      'Secret/push-redis',
      'Service/redis',
    ]);
    expect(new Set(rendered['try-it'].map((o) => o.metadata.namespace))).toEqual(
      new Set(['push-try']),
    );
  });
});

describe('kustomize-lite', () => {
  it('names generated ConfigMaps and Secrets by their content, and the pods use those names', () => {
    const objects = rendered['try-it'];
    const generated = objects.filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret');
    for (const object of generated) expect(object.metadata.name).toMatch(/-[a-z0-9]{10}$/);
    // The overlay's merge changes the content, hence the name.
    const config = (objects: Objects) =>
      objects.find((o) => o.metadata.name.startsWith('push-node-config-'));
    expect(config(objects)?.metadata.name).not.toBe(config(rendered.base)?.metadata.name);
    expect(references(objects)).toEqual([]);
  });

  it('refuses a kustomization field it does not implement', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'kustomize-lite-'));
    try {
      await writeFile(join(dir, 'kustomization.yaml'), 'resources: []\nnamePrefix: x-\n');
      await expect(kustomizeBuild(dir)).rejects.toThrow(/does not implement "namePrefix"/);
      await writeFile(
        join(dir, 'kustomization.yaml'),
        'configMapGenerator:\n  - name: x\n    files: [../outside.conf]\n',
      );
      await expect(kustomizeBuild(dir)).rejects.toThrow(/is not in or below/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Each check fails when the manifests break what it checks

/** A broken copy of the rendered try-it objects, and the check that must notice. */
type Breakage = [what: string, check: CheckName, breakIt: (objects: KubernetesObject[]) => void];

/** The node StatefulSet's pod spec and container, for breaking. */
function nodeParts(objects: Objects) {
  const node = nodeContainer(objects);
  const statefulSet = named(objects, StatefulSet.is, NODE);
  if (node === undefined || statefulSet?.spec === undefined) throw new Error('no nodes');
  return { ...node, statefulSet: statefulSet.spec };
}

function nginxParts(objects: Objects) {
  const nginx = nginxContainer(objects);
  if (nginx === undefined) throw new Error('no nginx');
  return nginx;
}

const setEnv = (container: IContainer, name: string, value: string) => {
  const variable = container.env?.find((v) => v.name === name);
  if (variable === undefined) throw new Error(`no ${name}`);
  variable.value = value;
};

const service = (objects: Objects, name: string) => {
  const found = named(objects, Service.is, name)?.spec;
  if (found === undefined) throw new Error(`no Service ${name}`);
  return found;
};

const BREAKAGES: Breakage[] = [
  [
    'a port given as a name where a number is due',
    'schema',
    (o) => {
      const port = nodeParts(o).container.ports?.[0];
      if (port !== undefined) Object.assign(port, { containerPort: 'http' });
    },
  ],
  [
    'a misspelt field',
    'schema',
    (o) => {
      Object.assign(service(o, NODE), { publishNotReadyAdresses: true });
    },
  ],
  [
    'NODE_ID from the host name',
    'nodeIdentity',
    (o) => {
      const variable = nodeParts(o).container.env?.find((v) => v.name === 'NODE_ID');
      if (variable?.valueFrom?.fieldRef !== undefined)
        variable.valueFrom.fieldRef.fieldPath = 'spec.nodeName';
    },
  ],
  [
    'the StatefulSet Service hiding not-ready pods',
    'nodeIdentity',
    (o) => {
      service(o, NODE).publishNotReadyAddresses = false;
    },
  ],
  [
    'a Service selecting nginx and the nodes',
    'services',
    (o) => {
      service(o, 'push-node-ready').selector = { 'app.kubernetes.io/name': 'push-cluster' };
    },
  ],
  [
    'a Service to a port the pods lack',
    'services',
    (o) => {
      const port = service(o, 'push-node-ready').ports?.[0];
      if (port !== undefined) port.targetPort = 'htp';
    },
  ],
  [
    'readiness on /healthz',
    'probes',
    (o) => {
      const probe = nodeParts(o).container.readinessProbe?.httpGet;
      if (probe !== undefined) probe.path = '/healthz';
    },
  ],
  [
    'liveness on /readyz',
    'probes',
    (o) => {
      const probe = nodeParts(o).container.livenessProbe?.httpGet;
      if (probe !== undefined) probe.path = '/readyz';
    },
  ],
  [
    'a shutdown deadline past the grace period',
    'drain',
    (o) => {
      setEnv(nodeParts(o).container, 'SHUTDOWN_TIMEOUT_MS', '31000');
    },
  ],
  [
    'a drain longer than the shutdown deadline',
    'drain',
    (o) => {
      setEnv(nodeParts(o).container, 'DRAIN_SPREAD_MS', '18000');
    },
  ],
  [
    'a longer preStop',
    'drain',
    (o) => {
      const hook = nodeParts(o).container.lifecycle?.preStop?.exec;
      if (hook !== undefined) hook.command = ['sleep', '15'];
    },
  ],
  [
    "a drain too quick for the other nodes' CPU",
    'drain',
    (o) => {
      setEnv(nodeParts(o).container, 'DRAIN_SPREAD_MS', '3000');
    },
  ],
  [
    'a writable root filesystem',
    'security',
    (o) => {
      const context = nginxParts(o).container.securityContext;
      if (context !== undefined) context.readOnlyRootFilesystem = false;
    },
  ],
  [
    'capabilities kept',
    'security',
    (o) => {
      const context = nodeParts(o).container.securityContext;
      if (context !== undefined) context.capabilities = { drop: ['NET_RAW'] };
    },
  ],
  [
    'Redis as root',
    'security',
    (o) => {
      const { spec } = workloadContainer(o, 'Deployment', 'redis', 'redis');
      if (spec.securityContext !== undefined) spec.securityContext.runAsUser = 0;
    },
  ],
  [
    'a mounted key the ConfigMap lacks',
    'references',
    (o) => {
      const item = nginxParts(o).spec.volumes?.[0]?.configMap?.items?.[0];
      if (item !== undefined) item.key = 'nginx.cnf';
    },
  ],
  [
    'a Secret that does not exist',
    'references',
    (o) => {
      const from = nodeParts(o).container.envFrom?.find((f) =>
        f.secretRef?.name?.startsWith('push-redis'),
      );
      if (from?.secretRef !== undefined) from.secretRef.name = 'push-redis';
    },
  ],
  [
    'an nginx file edited in the ConfigMap',
    'nginxFiles',
    (o) => {
      const configMap = all(o, ConfigMap.is).find((c) =>
        c.metadata?.name?.startsWith('push-nginx-'),
      );
      if (configMap?.data !== undefined) configMap.data['push-cluster.conf'] += '\n# edited\n';
    },
  ],
  [
    'no emptyDir on /tmp',
    'nginxFiles',
    (o) => {
      const { container } = nginxParts(o);
      container.volumeMounts = container.volumeMounts?.filter((m) => m.mountPath !== '/tmp');
    },
  ],
  [
    'sessions routed over the ready pods only',
    'nginxRouting',
    (o) => {
      setEnv(
        nginxParts(o).container,
        'PUSH_SESSION_DOMAIN',
        'push-node-ready.$(POD_NAMESPACE).svc.cluster.local',
      );
    },
  ],
  [
    'more workers than cores',
    'nginxRouting',
    (o) => {
      setEnv(nginxParts(o).container, 'PUSH_NGINX_WORKERS', '4');
    },
  ],
  [
    'port 80 without the sysctl',
    'nginxRouting',
    (o) => {
      const context = nginxParts(o).spec.securityContext;
      if (context !== undefined) context.sysctls = [];
    },
  ],
  [
    'POD_NAMESPACE defined after its use',
    'nginxRouting',
    (o) => {
      const { container } = nginxParts(o);
      const [first, ...rest] = container.env ?? [];
      if (first !== undefined) container.env = [...rest, first];
    },
  ],
  [
    'an autoscaler aimed at a Deployment',
    'autoscaler',
    (o) => {
      const hpa = named(o, HorizontalPodAutoscaler.is, NODE);
      if (hpa?.spec !== undefined) hpa.spec.scaleTargetRef.kind = 'Deployment';
    },
  ],
  [
    'replicas in the StatefulSet',
    'autoscaler',
    (o) => {
      nodeParts(o).statefulSet.replicas = 3;
    },
  ],
  [
    'a budget selecting no pods',
    'budgets',
    (o) => {
      const pdb = named(o, PodDisruptionBudget.is, NODE);
      if (pdb?.spec?.selector?.matchLabels !== undefined)
        pdb.spec.selector.matchLabels['app.kubernetes.io/component'] = 'nodes';
    },
  ],
  [
    'two nodes down at once',
    'budgets',
    (o) => {
      const pdb = named(o, PodDisruptionBudget.is, NODE);
      if (pdb?.spec !== undefined) pdb.spec.maxUnavailable = 2;
    },
  ],
  [
    'a request above the limit',
    'resources',
    (o) => {
      const requests = nodeParts(o).container.resources?.requests;
      if (requests !== undefined) requests.memory = '1Gi';
    },
  ],
  [
    'no memory limit',
    'resources',
    (o) => {
      const limits = nginxParts(o).container.resources?.limits;
      if (limits !== undefined) delete limits.memory;
    },
  ],
  [
    "an image not the kustomization's",
    'images',
    (o) => {
      nodeParts(o).container.image = 'push-cluster:latest';
    },
  ],
  [
    'spread over zones only',
    'spread',
    (o) => {
      const constraint = nodeParts(o).spec.topologySpreadConstraints?.[0];
      if (constraint !== undefined) constraint.topologyKey = 'topology.kubernetes.io/zone';
    },
  ],
  [
    'REDIS_URL and REDIS_CLUSTER_NODES both set',
    'nodeConfig',
    (o) => {
      const secret = all(o, Secret.is).find((s) => s.metadata?.name?.startsWith('push-redis-'));
      if (secret?.data !== undefined)
        secret.data.REDIS_CLUSTER_NODES = Buffer.from('r1:6379').toString('base64');
    },
  ],
];

describe('each check fails when the manifests break what it checks', () => {
  it.each(BREAKAGES)('%s → %s', async (_what, name, breakIt) => {
    const objects = structuredClone(rendered['try-it']);
    expect(await check(name)(objects)).toEqual([]);
    breakIt(objects);
    expect(await check(name)(objects)).not.toEqual([]);
  });

  it('covers every check', () => {
    const covered = new Set(BREAKAGES.map(([, name]) => name));
    expect(
      [...Object.keys(CHECKS), 'nodeConfig'].filter((name) => !covered.has(name as CheckName)),
    ).toEqual([]);
  });
});
