/**
 * The changes between two versions of an object schema, field by field, judged as sets of
 * accepted documents: a change is BACKWARD-breaking when some document valid under the older
 * version is invalid under the newer one, FORWARD-breaking in the other direction. What a field
 * may hold is its declared schema, or, when undeclared, what `additionalProperties` allows:
 * nothing for a closed object, anything for an open one. That one rule yields the content-model
 * cases of the registries (see `./compatibility.ts`).
 */

import { ANNOTATIONS, type Change, type ChangeKind, type Labels } from './change.js';
import { canonicalJson, type JsonSchema, type ObjectJsonSchema } from './json-schema.js';
import { diffScalar } from './scalar-diff.js';

export type { Change, ChangeKind, Labels } from './change.js';

/** The values a field may hold: none, any, or those a schema accepts. */
type Space =
  | { readonly kind: 'never' }
  | { readonly kind: 'any' }
  | { readonly kind: 'schema'; readonly schema: { readonly [k: string]: unknown } };

function spaceOf(s: JsonSchema | undefined): Space {
  if (s === undefined || s === true) return { kind: 'any' };
  if (s === false) return { kind: 'never' };
  if (Object.keys(s).every((k) => ANNOTATIONS.has(k))) return { kind: 'any' };
  return { kind: 'schema', schema: s };
}

const has = (o: object, k: string): boolean => Object.hasOwn(o, k);
const requiredOf = (s: ObjectJsonSchema): Set<string> => new Set(s.required ?? []);

/** Reasons a value allowed by `o` may be rejected by `n` (backward) and the other way round (forward). */
function compareSpaces(o: Space, n: Space, L: Labels): { backward: string[]; forward: string[] } {
  if (o.kind === n.kind && o.kind !== 'schema') return { backward: [], forward: [] };
  if (o.kind === 'schema' && n.kind === 'schema') {
    const changes = diffScalar(o.schema, n.schema, L);
    return {
      backward: changes.flatMap((c) => (c.backward ? [`${c.summary}: ${c.backward}`] : [])),
      forward: changes.flatMap((c) => (c.forward ? [`${c.summary}: ${c.forward}`] : [])),
    };
  }
  // never ⊂ schema ⊂ any (a schema with assertions rejects something; `never` accepts nothing).
  const rank = { never: 0, schema: 1, any: 2 } as const;
  return rank[o.kind] > rank[n.kind]
    ? { backward: ['accepts fewer values'], forward: [] }
    : { backward: [], forward: ['accepts more values'] };
}

/** The `backward` / `forward` members of a change, present only when there is a reason. */
const reasons = (backward: readonly string[], forward: readonly string[]) => ({
  ...(backward.length ? { backward: backward.join('; ') } : {}),
  ...(forward.length ? { forward: forward.join('; ') } : {}),
});

function fieldRemoved(field: string, o: ObjectJsonSchema, n: ObjectJsonSchema, L: Labels): Change {
  const to = spaceOf(n.additionalProperties);
  const v = compareSpaces(spaceOf(o.properties[field]), to, L);
  const viaAdditional = (r: string) => `${L.newer}'s additionalProperties for "${field}": ${r}`;
  const backward = v.backward.map((r) =>
    to.kind === 'never'
      ? `${L.newer} is closed and no longer declares "${field}", so ${L.older} data carrying it is rejected`
      : viaAdditional(r),
  );
  const forward = v.forward.map((r) =>
    to.kind === 'any'
      ? `${L.newer} is open, so ${L.newer} data may carry "${field}" with a value ${L.older} rejects`
      : viaAdditional(r),
  );
  if (requiredOf(o).has(field) && !requiredOf(n).has(field)) {
    forward.push(`${L.older} requires "${field}", which ${L.newer} data need not carry`);
  }
  return {
    kind: 'field-removed',
    field,
    summary: `field "${field}" removed`,
    ...reasons(backward, forward),
  };
}

function fieldAdded(field: string, o: ObjectJsonSchema, n: ObjectJsonSchema, L: Labels): Change {
  const from = spaceOf(o.additionalProperties);
  const required = requiredOf(n).has(field);
  const v = compareSpaces(from, spaceOf(n.properties[field]), L);
  const viaAdditional = (r: string) => `${L.older}'s additionalProperties for "${field}": ${r}`;
  const backward = v.backward.map((r) =>
    from.kind === 'any'
      ? `${L.older} is open, so ${L.older} data may already carry "${field}" with a value ${L.newer} rejects`
      : viaAdditional(r),
  );
  const forward = v.forward.map((r) =>
    from.kind === 'never'
      ? `${L.older} is closed and does not declare "${field}", so it rejects ${L.newer} data carrying it`
      : viaAdditional(r),
  );
  if (required && !requiredOf(o).has(field)) {
    backward.unshift(`${L.older} data need not carry "${field}", which ${L.newer} requires`);
  }
  return {
    kind: required ? 'field-added-required' : 'field-added-optional',
    field,
    summary: `field "${field}" added as ${required ? 'required' : 'optional'}`,
    ...reasons(backward, forward),
  };
}

function fieldChanged(field: string, o: ObjectJsonSchema, n: ObjectJsonSchema, L: Labels): Change[] {
  const changes: Change[] = [];
  const [wasRequired, isRequired] = [requiredOf(o).has(field), requiredOf(n).has(field)];
  if (!wasRequired && isRequired)
    changes.push({
      kind: 'optional-to-required',
      field,
      summary: `field "${field}" changed from optional to required`,
      backward: `${L.older} data may omit "${field}", which ${L.newer} requires`,
    });
  if (wasRequired && !isRequired)
    changes.push({
      kind: 'required-to-optional',
      field,
      summary: `field "${field}" changed from required to optional`,
      forward: `${L.newer} data may omit "${field}", which ${L.older} requires`,
    });
  const [os, ns] = [
    spaceOf(o.properties[field] ?? o.additionalProperties),
    spaceOf(n.properties[field] ?? n.additionalProperties),
  ];
  if (os.kind === 'schema' && ns.kind === 'schema') {
    changes.push(
      ...diffScalar(os.schema, ns.schema, L).map((c) => ({
        ...c,
        field,
        summary: `field "${field}": ${c.summary}`,
      })),
    );
  } else {
    const v = compareSpaces(os, ns, L);
    if (v.backward.length || v.forward.length)
      changes.push({
        kind: 'type-changed',
        field,
        summary: `field "${field}": schema changed`,
        ...reasons(v.backward, v.forward),
      });
  }
  return changes;
}

function additionalChanged(o: ObjectJsonSchema, n: ObjectJsonSchema, L: Labels): Change[] {
  const v = compareSpaces(spaceOf(o.additionalProperties), spaceOf(n.additionalProperties), L);
  if (!v.backward.length && !v.forward.length) return [];
  const kind: ChangeKind =
    v.backward.length && v.forward.length
      ? 'additional-properties-changed'
      : v.backward.length
        ? 'additional-properties-closed'
        : 'additional-properties-opened';
  const summary =
    kind === 'additional-properties-changed'
      ? 'additionalProperties changed'
      : kind === 'additional-properties-closed'
        ? 'additionalProperties narrowed (object closed to undeclared fields)'
        : 'additionalProperties widened (object opened to undeclared fields)';
  return [
    {
      kind,
      summary,
      ...reasons(
        v.backward.length ? [`${L.older} data may carry undeclared fields that ${L.newer} rejects`] : [],
        v.forward.length ? [`${L.newer} data may carry undeclared fields that ${L.older} rejects`] : [],
      ),
    },
  ];
}

const OBJECT_KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties']);

function rootChanged(o: ObjectJsonSchema, n: ObjectJsonSchema): Change[] {
  const other = (s: ObjectJsonSchema) =>
    canonicalJson(
      Object.fromEntries(Object.entries(s).filter(([k]) => !OBJECT_KEYWORDS.has(k) && !ANNOTATIONS.has(k))),
    );
  if (o.type === 'object' && n.type === 'object' && other(o) === other(n)) return [];
  const why =
    'the checker compares object schemas with properties, required and additionalProperties only; treat the change as breaking';
  return [{ kind: 'unsupported', summary: 'object-level keywords changed', backward: why, forward: why }];
}

/** Every change from `older` to `newer`, fields in a stable (alphabetical) order, object-level last. */
export function diffSchemas(older: ObjectJsonSchema, newer: ObjectJsonSchema, labels: Labels): Change[] {
  const fields = new Set([
    ...Object.keys(older.properties),
    ...Object.keys(newer.properties),
    ...(older.required ?? []),
    ...(newer.required ?? []),
  ]);
  const changes: Change[] = [];
  for (const field of [...fields].sort()) {
    const [inOld, inNew] = [has(older.properties, field), has(newer.properties, field)];
    if (inOld && !inNew) changes.push(fieldRemoved(field, older, newer, labels));
    else if (!inOld && inNew) changes.push(fieldAdded(field, older, newer, labels));
    else changes.push(...fieldChanged(field, older, newer, labels));
  }
  return [...changes, ...additionalChanged(older, newer, labels), ...rootChanged(older, newer)];
}
