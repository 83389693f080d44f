import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { GenericContainer } from 'testcontainers';
import { isRecord, type KubernetesObject, podSpecOf } from './kustomize-lite.js';

/**
 * Kubernetes' pod semantics, as far as the tests need them: the environment a container gets
 * (`env`, `envFrom`, the downward API, `$(VAR)` references) and a Docker container started the
 * way a kubelet would start it (command and args, user, read-only root filesystem, capabilities,
 * sysctls, ConfigMap volumes and emptyDirs).
 */

/** The pod a container runs in: what the downward API tells it. */
export interface PodIdentity {
  name: string;
  namespace: string;
}

/** The object of `kind` named `name` among `objects`, or `undefined`. */
export function findObject(
  objects: readonly KubernetesObject[],
  kind: string,
  name: string,
): KubernetesObject | undefined {
  return objects.find((object) => object.kind === kind && object.metadata.name === name);
}

/** The pod spec of the workload `kind`/`name` and its container `container`. */
export function workloadContainer(
  objects: readonly KubernetesObject[],
  kind: string,
  name: string,
  container: string,
): { spec: IPodSpec; container: IContainer } {
  const workload = findObject(objects, kind, name);
  const spec = workload === undefined ? undefined : (podSpecOf(workload) as IPodSpec | undefined);
  const found = spec?.containers.find((candidate) => candidate.name === container);
  if (spec === undefined || found === undefined) {
    throw new Error(`no container ${container} in ${kind} ${name}`);
  }
  return { spec, container: found };
}

/** The value under `key` of ConfigMap or Secret `name` (a Secret's decoded), or `undefined`. */
function dataValue(
  objects: readonly KubernetesObject[],
  kind: 'ConfigMap' | 'Secret',
  name: string,
): Record<string, string> | undefined {
  const object = findObject(objects, kind, name);
  if (object === undefined) return undefined;
  const data = isRecord(object.data) ? object.data : {};
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      kind === 'Secret' ? Buffer.from(String(value), 'base64').toString('utf8') : String(value),
    ]),
  );
}

/**
 * Expands `$(NAME)` references in an env value as the kubelet does: to variables defined before
 * it; unknown references stay as written; `$$` is one `$`.
 */
export function expandReferences(value: string, defined: Readonly<Record<string, string>>): string {
  let result = '';
  for (let i = 0; i < value.length; i++) {
    const character = value[i];
    if (character !== '$' || i + 1 >= value.length) {
      result += character;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      result += '$';
      i++;
    } else if (next === '(') {
      const end = value.indexOf(')', i + 2);
      if (end < 0) {
        result += value.slice(i);
        break;
      }
      const name = value.slice(i + 2, end);
      result += defined[name] ?? `$(${name})`;
      i = end;
    } else {
      result += character;
    }
  }
  return result;
}

/**
 * The environment `container` starts with in `pod`: every `envFrom` source in order, then every
 * `env` entry (literal values with `$(VAR)` expanded, the downward API's pod name and namespace,
 * ConfigMap and Secret keys). ConfigMaps and Secrets come from `objects`.
 *
 * @throws on a reference to a ConfigMap, Secret or key that is missing and not `optional`, or a
 *   downward API field other than the pod's name and namespace.
 */
export function containerEnvironment(
  objects: readonly KubernetesObject[],
  container: IContainer,
  pod: PodIdentity,
): Record<string, string> {
  const env: Record<string, string> = {};
  const source = (kind: 'ConfigMap' | 'Secret', name: string, optional: boolean | undefined) => {
    const data = dataValue(objects, kind, name);
    if (data === undefined && optional !== true) {
      throw new Error(`${container.name}: no ${kind} ${name}`);
    }
    return data ?? {};
  };
  for (const from of container.envFrom ?? []) {
    const data =
      from.configMapRef !== undefined
        ? source('ConfigMap', from.configMapRef.name ?? '', from.configMapRef.optional)
        : from.secretRef !== undefined
          ? source('Secret', from.secretRef.name ?? '', from.secretRef.optional)
          : {};
    for (const [key, value] of Object.entries(data)) env[`${from.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from === undefined) {
      env[variable.name] = expandReferences(variable.value ?? '', env);
    } else if (from.fieldRef !== undefined) {
      const fields: Record<string, string> = {
        'metadata.name': pod.name,
        'metadata.namespace': pod.namespace,
      };
      const value = fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${variable.name}: ${from.fieldRef.fieldPath}?`);
      env[variable.name] = value;
    } else {
      const ref = from.configMapKeyRef ?? from.secretKeyRef;
      if (ref === undefined) throw new Error(`${variable.name}: an unsupported valueFrom`);
      const kind = from.configMapKeyRef !== undefined ? 'ConfigMap' : 'Secret';
      const value = source(kind, ref.name ?? '', ref.optional)[ref.key];
      if (value !== undefined) env[variable.name] = value;
      else if (ref.optional !== true) throw new Error(`${variable.name}: no key ${ref.key}`);
    }
  }
  return env;
}

/**
 * A container started as a pod's: GenericContainer, plus the two settings it does not offer, a
 * read-only root filesystem and sysctls (Docker's `--read-only` and `--sysctl`).
 */
export class PodContainer extends GenericContainer {
  /** Docker's `--read-only`. */
  withReadOnlyRootFilesystem(): this {
    this.hostConfig.ReadonlyRootfs = true;
    return this;
  }

  /** Docker's `--sysctl name=value`, each. */
  withSysctls(sysctls: Record<string, string>): this {
    this.hostConfig.Sysctls = { ...this.hostConfig.Sysctls, ...sysctls };
    return this;
  }
}

/** Options for {@link podContainer}. */
export interface PodContainerOptions {
  /** The rendered objects: the workload, and the ConfigMaps and Secrets it refers to. */
  objects: readonly KubernetesObject[];
  kind: string;
  /** The workload's name. */
  workload: string;
  container: string;
  pod: PodIdentity;
  /** Images to run instead of the manifest's (e.g. the image built for the tests). */
  images?: Readonly<Record<string, string>>;
  /** A host directory for the pod's ConfigMap volumes (the caller removes it). */
  volumesDir: string;
}

/**
 * The DNS names kube-dns gives a pod of workload `kind`/`name`, as network aliases for Docker's
 * DNS to answer: `<service>` (and its longer forms, down to
 * `<service>.<namespace>.svc.cluster.local`) for every Service that selects the pod's labels, and
 * for a StatefulSet's pod, `<pod>.<serviceName>...` when its serviceName is a headless Service
 * that selects it. Docker cannot tell ready from not-ready: a pod keeps every name until its
 * container stops.
 */
export function kubeDnsNames(
  objects: readonly KubernetesObject[],
  kind: string,
  name: string,
  pod: PodIdentity,
): string[] {
  const workload = findObject(objects, kind, name);
  const spec = isRecord(workload?.spec) ? workload.spec : {};
  const template = isRecord(spec.template) ? spec.template : {};
  const metadata = isRecord(template.metadata) ? template.metadata : {};
  const labels = isRecord(metadata.labels) ? metadata.labels : {};
  const forms = (host: string) => [
    host,
    `${host}.${pod.namespace}`,
    `${host}.${pod.namespace}.svc`,
    `${host}.${pod.namespace}.svc.cluster.local`,
  ];
  const names: string[] = [];
  for (const service of objects.filter((object) => object.kind === 'Service')) {
    const serviceSpec = isRecord(service.spec) ? service.spec : {};
    const selector = isRecord(serviceSpec.selector) ? serviceSpec.selector : {};
    const selects =
      Object.keys(selector).length > 0 &&
      Object.entries(selector).every(([key, value]) => labels[key] === value);
    if (!selects) continue;
    names.push(...forms(service.metadata.name));
    if (
      kind === 'StatefulSet' &&
      spec.serviceName === service.metadata.name &&
      serviceSpec.clusterIP === 'None'
    ) {
      names.push(...forms(`${pod.name}.${service.metadata.name}`));
    }
  }
  return names;
}

/**
 * A container set up from a workload's pod template as a kubelet would start it: the image
 * (or its stand-in from `images`), `command` as the entrypoint and `args` as the command (the
 * image's CMD dropped when `command` is set), the environment of {@link containerEnvironment},
 * the pod's and container's security settings (user and group, read-only root filesystem, no
 * capabilities, no privilege escalation, sysctls; the seccomp profile is Docker's default, as
 * RuntimeDefault), ConfigMap volumes (written to a host directory and bound read-only, `items`
 * and `subPath` honoured) and emptyDirs (host directories writable by all, as a kubelet's). Not started:
 * add the network, aliases and ports, then `start()`.
 */
export async function podContainer(options: PodContainerOptions): Promise<PodContainer> {
  const { objects, kind, workload, pod } = options;
  const { spec, container } = workloadContainer(objects, kind, workload, options.container);
  const image = container.image ?? '';
  const started = new PodContainer(options.images?.[image] ?? image).withEnvironment(
    containerEnvironment(objects, container, pod),
  );
  if (container.command !== undefined) {
    started.withEntrypoint(container.command).withCommand(container.args ?? []);
  } else if (container.args !== undefined) {
    started.withCommand(container.args);
  }
  const security = { ...spec.securityContext, ...container.securityContext };
  if (security.runAsUser !== undefined) {
    started.withUser(`${security.runAsUser}:${security.runAsGroup ?? security.runAsUser}`);
  }
  if (container.securityContext?.readOnlyRootFilesystem === true) {
    started.withReadOnlyRootFilesystem();
  }
  const drop = container.securityContext?.capabilities?.drop ?? [];
  if (drop.length > 0) started.withDroppedCapabilities(...drop);
  if (container.securityContext?.allowPrivilegeEscalation === false) {
    started.withSecurityOpt('no-new-privileges');
  }
  // Ports below 1024 need root unless the pod says otherwise: the kernel's default, which Docker
  // (not Kubernetes' runtimes by default) changes to 0 for its containers.
  started.withSysctls({
    'net.ipv4.ip_unprivileged_port_start': '1024',
    ...Object.fromEntries(
      (spec.securityContext?.sysctls ?? []).map(({ name, value }) => [name, value]),
    ),
  });
  // All at once: each withBindMounts call replaces the previous ones.
  const binds: Parameters<GenericContainer['withBindMounts']>[0] = [];
  const volumesDir = join(options.volumesDir, pod.name);
  await mkdir(volumesDir, { recursive: true });
  for (const mount of container.volumeMounts ?? []) {
    const volume = spec.volumes?.find((candidate) => candidate.name === mount.name);
    if (volume?.emptyDir !== undefined) {
      // A host directory writable by all, as a kubelet makes an emptyDir (Docker's tmpfs takes
      // the owner and mode of the image's directory at that path instead).
      const dir = join(volumesDir, `${mount.name}.emptyDir`);
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o777);
      binds.push({ source: dir, target: mount.mountPath, mode: 'rw' });
    } else if (volume?.configMap !== undefined) {
      const name = volume.configMap.name ?? '';
      const data = dataValue(objects, 'ConfigMap', name);
      if (data === undefined) throw new Error(`${pod.name}: no ConfigMap ${name}`);
      const items = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      const dir = join(volumesDir, mount.name);
      for (const { key, path } of items) {
        const content = data[key];
        if (content === undefined) throw new Error(`${pod.name}: ConfigMap ${name} has no ${key}`);
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), content);
        await chmod(join(dir, path), volume.configMap.defaultMode ?? 0o644);
      }
      await chmod(dir, 0o755);
      const source = mount.subPath === undefined ? dir : join(dir, mount.subPath);
      binds.push({ source, target: mount.mountPath, mode: 'ro' });
    } else {
      throw new Error(`${pod.name}: volume ${mount.name} is neither a ConfigMap nor an emptyDir`);
    }
  }
  await chmod(volumesDir, 0o755);
  return started.withBindMounts(binds);
}
