/**
 * Lookup requests -> a validated `LookupRequest`, or a problem (always a 4xx with a message that
 * names what is wrong). Feature and group names and entity ids are checked against the feature
 * group definitions, so nothing unknown reaches the store.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { z } from 'zod';
import type { FeatureGroup } from '../../schemas/index.js';
import { featureGroupsByName } from '../../schemas/index.js';
import type { FeatureRef } from '../core/lookup.js';
import { problem } from './http.js';

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: APIGatewayProxyResult };

const fail = (
  status: number,
  type: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Parsed<never> => ({
  ok: false,
  problem: problem(status, type, detail, undefined, extra),
});

export const MAX_BODY_BYTES = 256 * 1024;

function groupNamed(name: string): FeatureGroup | undefined {
  return featureGroupsByName.get(name);
}

/** `customer:amount_sum_24h` -> the feature, or a 400 naming it. */
export function resolveRefs(refs: readonly string[]): Parsed<FeatureRef[]> {
  const out: FeatureRef[] = [];
  for (const ref of refs) {
    const [groupName = '', featureName = ''] = ref.split(':');
    const group = groupNamed(groupName);
    if (!group)
      return fail(
        400,
        'unknown-group',
        `unknown feature group "${groupName.slice(0, 64)}" in "${ref.slice(0, 130)}"`,
        { groups: [...featureGroupsByName.keys()] },
      );
    const feature = group.features.find((f) => f.name === featureName);
    if (!feature)
      return fail(
        400,
        'unknown-feature',
        `feature group ${group.name} has no feature "${featureName.slice(0, 64)}"`,
      );
    if (!out.some((r) => r.ref === `${group.name}:${feature.name}`))
      out.push({ ref: `${group.name}:${feature.name}`, group, feature });
  }
  return { ok: true, value: out };
}

/** An entity id checked by the contract's own schema for that field. */
export function checkEntityId(group: FeatureGroup, id: string, where: string): Parsed<string> {
  const parsed = group.entity.idSchema.safeParse(id);
  if (parsed.success) return { ok: true, value: parsed.data };
  return fail(
    400,
    'invalid-entity-id',
    `${where}${group.entity.name} is malformed: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
  );
}

/** GET /v1/features/{group}/{entityId}?features=a,b */
export function parseGet(
  params: Record<string, string | undefined> | null,
  query: Record<string, string | undefined> | null,
) {
  const group = groupNamed(params?.group ?? '');
  if (!group) {
    return fail(400, 'unknown-group', `unknown feature group "${(params?.group ?? '').slice(0, 64)}"`, {
      groups: [...featureGroupsByName.keys()],
    });
  }
  const id = checkEntityId(group, params?.entityId ?? '', '');
  if (!id.ok) return id;
  const names = query?.features
    ? query.features
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : group.features.map((f) => f.name);
  const refs = resolveRefs(names.map((n) => `${group.name}:${n}`));
  if (!refs.ok) return refs;
  return { ok: true as const, value: { group, entityId: id.value, refs: refs.value } };
}

const postBodies = new Map<number, ReturnType<typeof makePostBody>>();
/** The body schema for a limit, built once (a zod schema is costly to build, and compiles on first use). */
const postBody = (maxEntities: number) => {
  let schema = postBodies.get(maxEntities);
  if (!schema) {
    schema = makePostBody(maxEntities);
    postBodies.set(maxEntities, schema);
  }
  return schema;
};
const makePostBody = (maxEntities: number) =>
  z.strictObject({
    features: z.array(z.string().max(130)).min(1, 'name at least one feature').max(500),
    entities: z
      .array(z.record(z.string().max(64), z.string().max(200)))
      .min(1, 'name at least one entity')
      .max(maxEntities, `at most ${maxEntities} entities per request`),
  });

/** POST /v1/features:get  {"features": ["customer:amount_sum_24h", ...], "entities": [{"customer_id": "..."}, ...]} */
export function parsePost(body: string | null, isBase64: boolean, maxEntities: number) {
  const text = body === null ? '' : isBase64 ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES)
    return fail(400, 'body-too-large', `the body is over ${MAX_BODY_BYTES / 1024} KiB`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(400, 'invalid-json', 'the body is not valid JSON');
  }
  const parsed = postBody(maxEntities).safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
      .join('; ');
    const tooMany = parsed.error.issues.some((i) => i.code === 'too_big' && i.path[0] === 'entities');
    return fail(400, tooMany ? 'too-many-entities' : 'invalid-request', detail);
  }
  const refs = resolveRefs(parsed.data.features);
  if (!refs.ok) return refs;
  const groups = [...new Set(refs.value.map((r) => r.group))];
  const entities: Record<string, string>[] = [];
  // Ids already checked, per entity name: a request often repeats one (a busy merchant).
  const valid = new Map<string, Map<string, string>>(groups.map((g) => [g.entity.name, new Map()]));
  for (const [i, row] of parsed.data.entities.entries()) {
    const entity: Record<string, string> = {};
    for (const group of groups) {
      const id = row[group.entity.name];
      if (id === undefined)
        return fail(
          400,
          'missing-entity-id',
          `entities[${i}] has no ${group.entity.name}, needed for ${group.name} features`,
        );
      const seen = valid.get(group.entity.name) as Map<string, string>;
      let value = seen.get(id);
      if (value === undefined) {
        const checked = checkEntityId(group, id, `entities[${i}].`);
        if (!checked.ok) return checked;
        value = checked.value;
        seen.set(id, value);
      }
      entity[group.entity.name] = value;
    }
    entities.push(entity);
  }
  return { ok: true as const, value: { refs: refs.value, entities } };
}
