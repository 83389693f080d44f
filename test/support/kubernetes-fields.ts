import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { REPO_ROOT } from '../../bench/shared/repo-root.js';
import { isRecord, type KubernetesObject } from './kustomize-lite.js';

/**
 * Unknown fields in Kubernetes objects, found with the field lists of kubernetes-models' type
 * declarations. kubernetes-models' `validate()` checks types, required fields and enums, but lets
 * any unknown field through, which the API server (kubectl's default strict field validation)
 * refuses, and an older one silently drops: a misspelt `publishNotReadyAdresses` would go
 * unnoticed. The declarations list every field of every API type, one `"name"?: Type;` per line.
 */

/** A type, as far as the walk needs it. */
type FieldType =
  | { kind: 'leaf' }
  | { kind: 'array'; of: FieldType }
  | { kind: 'map'; of: FieldType }
  | { kind: 'object'; file: string; name: string };

/** One interface: its fields and their types. */
type Fields = Map<string, FieldType>;

/** The declaration files under node_modules, read once. */
const modelsDir = join(REPO_ROOT, 'node_modules', 'kubernetes-models');
const files = new Map<string, string>();
const interfaces = new Map<string, Fields | undefined>();

/**
 * The paths of the unknown fields in `object` (e.g. `spec.template.spec.containers[0].bogus`),
 * or `[]`. Fields of types the declarations leave open (`any`, raw JSON) are not checked.
 *
 * @throws when kubernetes-models has no model for the object's apiVersion and kind.
 */
export function unknownFields(object: KubernetesObject): string[] {
  const file = join(modelsDir, object.apiVersion, `${object.kind}.d.ts`);
  if (!existsSync(file))
    throw new Error(`kubernetes-models has no ${object.apiVersion} ${object.kind}`);
  const name = `I${object.kind}`;
  const problems: string[] = [];
  walk(object, { kind: 'object', file, name }, '', problems);
  return problems;
}

function walk(value: unknown, type: FieldType, path: string, problems: string[]): void {
  if (type.kind === 'leaf' || value === null || value === undefined) return;
  if (type.kind === 'array') {
    if (!Array.isArray(value)) return;
    for (const [i, item] of value.entries()) walk(item, type.of, `${path}[${i}]`, problems);
    return;
  }
  if (!isRecord(value)) return;
  if (type.kind === 'map') {
    for (const [key, item] of Object.entries(value))
      walk(item, type.of, `${path}.${key}`, problems);
    return;
  }
  const fields = interfaceFields(type.file, type.name);
  if (fields === undefined) return;
  for (const [key, item] of Object.entries(value)) {
    const field = fields.get(key);
    const at = path === '' ? key : `${path}.${key}`;
    if (field === undefined) problems.push(at);
    else walk(item, field, at, problems);
  }
}

/** The fields of interface `name` declared in `file`; `undefined` for an open type alias. */
function interfaceFields(file: string, name: string): Fields | undefined {
  const key = `${file}#${name}`;
  if (interfaces.has(key)) return interfaces.get(key);
  interfaces.set(key, undefined);
  const text = source(file);
  const body = new RegExp(
    `^export interface ${name}(?: extends [\\w, ]+)? \\{\\n([\\s\\S]*?)^\\}`,
    'm',
  ).exec(text)?.[1];
  if (body === undefined) return undefined;
  const fields: Fields = new Map();
  // Without comments, a member is `"name"?: Type;`, where Type may hold `{ ...; }` and `<...>`.
  const members = body.replace(/\/\*[\s\S]*?\*\//g, '');
  const memberStart = /"([^"]+)"\??:\s*/g;
  for (let match = memberStart.exec(members); match !== null; match = memberStart.exec(members)) {
    let depth = 0;
    let end = memberStart.lastIndex;
    for (; end < members.length; end++) {
      const character = members[end];
      if (character === '{' || character === '<') depth++;
      else if (character === '}' || character === '>') depth--;
      else if (character === ';' && depth === 0) break;
    }
    const [field = ''] = match.slice(1);
    fields.set(field, parseType(members.slice(memberStart.lastIndex, end).trim(), file));
    memberStart.lastIndex = end + 1;
  }
  interfaces.set(key, fields);
  return fields;
}

/** A member's type: `Array<T>`, `{ [key: string]: T; }`, an imported interface, or a leaf. */
function parseType(text: string, file: string): FieldType {
  const array = /^Array<([\s\S]+)>$/.exec(text)?.[1];
  if (array !== undefined) return { kind: 'array', of: parseType(array.trim(), file) };
  const map = /^\{\s*\[key: string\]:\s*([\s\S]+?);?\s*\}$/.exec(text)?.[1];
  if (map !== undefined) return { kind: 'map', of: parseType(map.trim(), file) };
  if (!/^I\w+$/.test(text)) return { kind: 'leaf' };
  const imported = importedFrom(file, text);
  if (imported === undefined) return { kind: 'leaf' };
  // The target file exports the interface under the imported name: `export type { IX as <name> }`.
  const local = new RegExp(`export type \\{ (\\w+) as ${text}\\b`).exec(source(imported))?.[1];
  return local === undefined ? { kind: 'leaf' } : { kind: 'object', file: imported, name: local };
}

/** The declaration file that `file` imports `name` from. */
function importedFrom(file: string, name: string): string | undefined {
  const statement = new RegExp(`import \\{[^}]*\\b${name}\\b[^}]*\\} from "([^"]+)"`).exec(
    source(file),
  )?.[1];
  if (statement === undefined) return undefined;
  if (statement.startsWith('.')) return resolve(dirname(file), statement.replace(/\.js$/, '.d.ts'));
  // A package: looked up from the importing file's directory upwards, as Node does.
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', `${statement}.d.ts`);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function source(file: string): string {
  let text = files.get(file);
  if (text === undefined) {
    text = readFileSync(file, 'utf8');
    files.set(file, text);
  }
  return text;
}
