import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * kustomize-lite: `kustomize build` for the subset of kustomize that deploy/kubernetes uses, so
 * that the suite can render the manifests without a kustomize or kubectl binary (none can be
 * installed here). It refuses every kustomization field it does not implement, rather than
 * ignore it: what it renders is what kustomize renders, or it fails.
 *
 * Implemented: `resources` (YAML files in the kustomization's directory, and directories with
 * their own kustomization, e.g. `../base`), `namespace`, `images`, `configMapGenerator` and
 * `secretGenerator` (`files`, `literals`, `envs`, `behavior`, `type`), `generatorOptions.
 * disableNameSuffixHash`; generated names get kustomize's content hash suffix, and references to
 * them from pod specs are renamed with it. As in kustomize, files must lie in or below the
 * kustomization's directory.
 */

/** A Kubernetes object as rendered: plain JSON. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** A resource while it is being built: the object, and whether its name gets a hash suffix. */
interface Resource {
  object: KubernetesObject;
  /** Set for ConfigMaps and Secrets made by a generator whose name gets kustomize's hash. */
  hashSuffix: boolean;
}

/** The kustomization fields this loader implements; any other is an error. */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
]);
const GENERATOR_FIELDS = new Set(['name', 'behavior', 'files', 'literals', 'envs', 'type']);
const IMAGE_FIELDS = new Set(['name', 'newName', 'newTag', 'digest']);
/** Kinds whose objects live in a namespace (those this loader may meet). */
const NAMESPACED_KINDS = new Set([
  'ConfigMap',
  'Secret',
  'Service',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Pod',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
  'ServiceAccount',
  'NetworkPolicy',
]);

/**
 * Renders the kustomization in `dir` (the directory holding `kustomization.yaml`), as
 * `kustomize build dir` does for the implemented subset.
 *
 * @throws on a field or form the loader does not implement, a file outside the kustomization's
 *   directory, a duplicate object, or a generator merging into a ConfigMap or Secret that does
 *   not exist.
 */
export async function kustomizeBuild(dir: string): Promise<KubernetesObject[]> {
  const resources = await accumulate(resolve(dir));
  const renamed = new Map<string, string>();
  for (const resource of resources) {
    if (!resource.hashSuffix) continue;
    const { object } = resource;
    const name = `${object.metadata.name}-${contentHash(object)}`;
    renamed.set(referenceKey(object.kind, object.metadata.namespace, object.metadata.name), name);
    object.metadata.name = name;
  }
  for (const { object } of resources) {
    const spec = podSpecOf(object);
    if (spec !== undefined) renameReferences(spec, object.metadata.namespace, renamed);
  }
  return resources.map(({ object }) => object);
}

/** The resources of one kustomization, its bases' included, with its transformers applied. */
async function accumulate(dir: string): Promise<Resource[]> {
  const file = join(dir, 'kustomization.yaml');
  const kustomization = asRecord(parse(await readFile(file, 'utf8')), file);
  for (const field of Object.keys(kustomization)) {
    if (!KUSTOMIZATION_FIELDS.has(field)) {
      throw new Error(`${file}: kustomize-lite does not implement "${field}"`);
    }
  }
  if (kustomization.kind !== undefined && kustomization.kind !== 'Kustomization') {
    throw new Error(`${file}: kind must be Kustomization`);
  }
  const resources: Resource[] = [];
  for (const entry of stringList(kustomization.resources, `${file}: resources`)) {
    const path = resolve(dir, entry);
    if ((await stat(path)).isDirectory()) {
      resources.push(...(await accumulate(path)));
    } else {
      const text = await readFile(inside(dir, entry), 'utf8');
      for (const document of parseAllDocuments(text)) {
        if (document.errors.length > 0) throw new Error(`${path}: ${document.errors[0]?.message}`);
        const value: unknown = document.toJSON();
        if (value === null) continue;
        resources.push({ object: asObject(value, path), hashSuffix: false });
      }
    }
  }
  const options = kustomization.generatorOptions;
  let hashSuffix = true;
  if (options !== undefined) {
    const record = asRecord(options, `${file}: generatorOptions`);
    for (const field of Object.keys(record)) {
      if (field !== 'disableNameSuffixHash') {
        throw new Error(`${file}: kustomize-lite does not implement generatorOptions.${field}`);
      }
    }
    hashSuffix = record.disableNameSuffixHash !== true;
  }
  for (const [field, kind] of [
    ['configMapGenerator', 'ConfigMap'],
    ['secretGenerator', 'Secret'],
  ] as const) {
    const generators = kustomization[field];
    if (generators === undefined) continue;
    if (!Array.isArray(generators)) throw new Error(`${file}: ${field} must be a list`);
    for (const generator of generators) {
      await generate(dir, kind, asRecord(generator, `${file}: ${field}`), resources, hashSuffix);
    }
  }
  if (kustomization.images !== undefined) {
    if (!Array.isArray(kustomization.images)) throw new Error(`${file}: images must be a list`);
    for (const entry of kustomization.images) {
      const image = asRecord(entry, `${file}: images`);
      for (const key of Object.keys(image)) {
        if (!IMAGE_FIELDS.has(key)) throw new Error(`${file}: images: unknown field "${key}"`);
      }
      for (const { object } of resources) setImage(object, image);
    }
  }
  if (kustomization.namespace !== undefined) {
    const namespace = String(kustomization.namespace);
    for (const { object } of resources) {
      if (!NAMESPACED_KINDS.has(object.kind)) {
        throw new Error(
          `${file}: kustomize-lite does not know whether ${object.kind} is namespaced`,
        );
      }
      object.metadata.namespace = namespace;
    }
  }
  const seen = new Set<string>();
  for (const { object } of resources) {
    const id = `${object.apiVersion}/${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    if (seen.has(id)) throw new Error(`${file}: ${id} appears twice`);
    seen.add(id);
  }
  return resources;
}

/** Runs one configMapGenerator or secretGenerator entry against `resources`. */
async function generate(
  dir: string,
  kind: 'ConfigMap' | 'Secret',
  generator: Record<string, unknown>,
  resources: Resource[],
  hashSuffix: boolean,
): Promise<void> {
  for (const field of Object.keys(generator)) {
    if (!GENERATOR_FIELDS.has(field) || (field === 'type' && kind === 'ConfigMap')) {
      throw new Error(`${dir}: ${kind} generator: kustomize-lite does not implement "${field}"`);
    }
  }
  const name = generator.name;
  if (typeof name !== 'string') throw new Error(`${dir}: a ${kind} generator needs a name`);
  const data: Record<string, string> = {};
  for (const entry of stringList(generator.files, `${name}: files`)) {
    const separator = entry.indexOf('=');
    const [key, path] =
      separator < 0
        ? [basename(entry), entry]
        : [entry.slice(0, separator), entry.slice(separator + 1)];
    data[key] = await readFile(inside(dir, path), 'utf8');
  }
  for (const literal of stringList(generator.literals, `${name}: literals`)) {
    const [key, value] = keyValue(literal, `${name}: literal`);
    data[key] = value;
  }
  for (const envFile of stringList(generator.envs, `${name}: envs`)) {
    for (const line of (await readFile(inside(dir, envFile), 'utf8')).split('\n')) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      const [key, value] = keyValue(line, `${envFile}`);
      data[key] = value;
    }
  }
  const behavior = generator.behavior ?? 'create';
  const existing = resources.find(
    ({ object }) => object.kind === kind && object.metadata.name === name,
  );
  const encoded =
    kind === 'Secret'
      ? Object.fromEntries(
          Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
        )
      : data;
  if (behavior === 'create') {
    if (existing !== undefined) throw new Error(`${dir}: ${kind} ${name} exists already`);
    const object: KubernetesObject = { apiVersion: 'v1', kind, metadata: { name }, data: encoded };
    if (kind === 'Secret')
      object.type = typeof generator.type === 'string' ? generator.type : 'Opaque';
    resources.push({ object, hashSuffix });
  } else if (behavior === 'merge' || behavior === 'replace') {
    if (existing === undefined)
      throw new Error(`${dir}: ${behavior}: no ${kind} ${name} to ${behavior}`);
    const before = behavior === 'merge' ? asRecord(existing.object.data ?? {}, name) : {};
    existing.object.data = { ...before, ...encoded };
  } else {
    throw new Error(`${dir}: ${kind} ${name}: unknown behavior ${String(behavior)}`);
  }
}

/**
 * kustomize's name suffix for a generated ConfigMap or Secret: the first 10 hex digits of the
 * SHA-256 of a JSON encoding of its kind, (type) and data, with Go's JSON escapes, and some digits
 * swapped for letters (kustomize's `hasher.encodeHash`: no vowels, no number). The encoding's
 * `name` is empty, as kustomize v4.5.4 hashes it (compared once with that binary's output).
 */
function contentHash(object: KubernetesObject): string {
  const fields: Record<string, unknown> = {
    data: sortKeys(asRecord(object.data ?? {}, object.metadata.name)),
    kind: object.kind,
    name: '',
  };
  if (object.kind === 'Secret') fields.type = object.type;
  // Go's json.Marshal sorts map keys and escapes <, > and & (and U+2028/9) for HTML.
  const json = JSON.stringify(sortKeys(fields)).replace(
    /[<>&\u2028\u2029]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const hex = createHash('sha256').update(json).digest('hex').slice(0, 10);
  const swaps: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex].map((digit) => swaps[digit] ?? digit).join('');
}

/**
 * The pod spec a workload runs (a Pod's own, or its template's), or `undefined` for objects
 * that run no pods.
 */
export function podSpecOf(object: KubernetesObject): Record<string, unknown> | undefined {
  const spec = object.spec;
  if (!isRecord(spec)) return undefined;
  if (object.kind === 'Pod') return spec;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(object.kind)) {
    const template = spec.template;
    return isRecord(template) && isRecord(template.spec) ? template.spec : undefined;
  }
  if (object.kind === 'CronJob') {
    const job = spec.jobTemplate;
    const template = isRecord(job) && isRecord(job.spec) ? job.spec.template : undefined;
    return isRecord(template) && isRecord(template.spec) ? template.spec : undefined;
  }
  return undefined;
}

/** Every container of a pod spec, init containers included. */
export function containersOf(spec: Record<string, unknown>): Record<string, unknown>[] {
  return [spec.initContainers, spec.containers].flatMap((list) =>
    Array.isArray(list) ? list.filter(isRecord) : [],
  );
}

/** Applies one `images` entry to the containers of `object`, as kustomize's image transformer. */
function setImage(object: KubernetesObject, entry: Record<string, unknown>): void {
  const spec = podSpecOf(object);
  if (spec === undefined) return;
  for (const container of containersOf(spec)) {
    if (typeof container.image !== 'string') continue;
    const match = /^(?<name>[^@:]+(?::\d+\/[^@:]+)?)(?::(?<tag>[^@]+))?(?:@(?<digest>.+))?$/.exec(
      container.image,
    );
    const imageName = match?.groups?.name;
    if (imageName === undefined || imageName !== entry.name) continue;
    const name = typeof entry.newName === 'string' ? entry.newName : imageName;
    if (typeof entry.digest === 'string') container.image = `${name}@${entry.digest}`;
    else if (entry.newTag !== undefined) container.image = `${name}:${String(entry.newTag)}`;
    else container.image = container.image.replace(imageName, name);
  }
}

/** Renames references to generated ConfigMaps and Secrets in a pod spec (kustomize's nameReference). */
function renameReferences(
  spec: Record<string, unknown>,
  namespace: string | undefined,
  renamed: ReadonlyMap<string, string>,
): void {
  const rename = (holder: unknown, field: string, kind: 'ConfigMap' | 'Secret') => {
    if (!isRecord(holder) || typeof holder[field] !== 'string') return;
    const name = renamed.get(referenceKey(kind, namespace, holder[field]));
    if (name !== undefined) holder[field] = name;
  };
  for (const volume of Array.isArray(spec.volumes) ? spec.volumes : []) {
    if (!isRecord(volume)) continue;
    rename(volume.configMap, 'name', 'ConfigMap');
    rename(volume.secret, 'secretName', 'Secret');
    const projected = isRecord(volume.projected) ? volume.projected.sources : undefined;
    for (const source of Array.isArray(projected) ? projected : []) {
      if (!isRecord(source)) continue;
      rename(source.configMap, 'name', 'ConfigMap');
      rename(source.secret, 'name', 'Secret');
    }
  }
  for (const secret of Array.isArray(spec.imagePullSecrets) ? spec.imagePullSecrets : []) {
    rename(secret, 'name', 'Secret');
  }
  for (const container of containersOf(spec)) {
    for (const source of Array.isArray(container.envFrom) ? container.envFrom : []) {
      if (!isRecord(source)) continue;
      rename(source.configMapRef, 'name', 'ConfigMap');
      rename(source.secretRef, 'name', 'Secret');
    }
    for (const variable of Array.isArray(container.env) ? container.env : []) {
      const from = isRecord(variable) ? variable.valueFrom : undefined;
      if (!isRecord(from)) continue;
      rename(from.configMapKeyRef, 'name', 'ConfigMap');
      rename(from.secretKeyRef, 'name', 'Secret');
    }
  }
}

const referenceKey = (kind: string, namespace: string | undefined, name: string) =>
  `${kind}/${namespace ?? ''}/${name}`;

/** `path` resolved in `dir`; kustomize refuses files outside the kustomization's directory. */
function inside(dir: string, path: string): string {
  const full = resolve(dir, path);
  const within = relative(dir, full);
  if (within.startsWith('..') || isAbsolute(within)) {
    throw new Error(`security; file '${full}' is not in or below '${dir}'`);
  }
  return full;
}

/** Splits `KEY=value` (kustomize drops one pair of quotes around the value). */
function keyValue(text: string, what: string): [string, string] {
  const separator = text.indexOf('=');
  if (separator <= 0) throw new Error(`${what}: "${text}" is not KEY=value`);
  const value = text.slice(separator + 1);
  const unquoted = /^(["'])(.*)\1$/s.exec(value)?.[2] ?? value;
  return [text.slice(0, separator).trim(), unquoted];
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new Error(`${what} must be a list of strings`);
  }
  return value;
}

function sortKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** True for a plain (non-array) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${what}: expected a mapping`);
  return value;
}

function asObject(value: unknown, what: string): KubernetesObject {
  const record = asRecord(value, what);
  const metadata = record.metadata;
  if (
    typeof record.apiVersion !== 'string' ||
    typeof record.kind !== 'string' ||
    !isRecord(metadata) ||
    typeof metadata.name !== 'string'
  ) {
    throw new Error(`${what}: an object needs apiVersion, kind and metadata.name`);
  }
  return record as KubernetesObject;
}
