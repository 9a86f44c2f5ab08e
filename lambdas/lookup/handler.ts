/**
 * Lookup API (API Gateway REST proxy, IAM-authorised). Thin: route, validate against the feature
 * group definitions, authorize, call the core, map to JSON or problem+json. Bad input is always a
 * 4xx with a message; an unexpected error is a 500 problem without internals. One audit line per
 * request (principal, groups, entity count, decision, latency), never a feature value.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { DynamoDbEntityStore } from '../adapters/dynamodb-entity-store.js';
import { StoreError } from '../adapters/errors.js';
import { type FeatureRef, type LookupRow, lookupFeatures } from '../core/lookup.js';
import type { EntityStore } from '../core/ports.js';
import {
  lookupConfigSchema,
  lookupDeadlineReserveMs,
  lookupDynamoDbClientConfig,
  readConfig,
} from '../shared/config.js';
import { InvocationDeadline, OutOfTimeError, refuseNearDeadline } from '../shared/deadline.js';
import { type Authorization, authorize } from './authorize.js';
import { json, problem } from './http.js';
import { parseGet, parsePost } from './requests.js';

const logger = new Logger({ serviceName: 'feature-lookup' });

export interface LookupDeps {
  readonly store: EntityStore;
  readonly maxEntities: number;
  /** IAM roles of this deployment are named `<prefix>-<declared role>`. */
  readonly rolePrefix: string;
  readonly now?: () => number;
}

interface Audit {
  groups: string[];
  entities: number;
  role?: string;
  decision: 'allow' | 'deny' | 'invalid' | 'not-found' | 'unavailable';
  reason?: string;
}

/**
 * A lookup handler over the given adapters (created on first use); `handler` below is the deployed
 * one. `deadline` is the invocation's end, from its context: the deployed store's calls stop short
 * of it (shared/deadline.ts).
 */
export function createHandler(
  makeDeps: (deadline: InvocationDeadline) => LookupDeps,
): (
  event: APIGatewayProxyEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<APIGatewayProxyResult> {
  let deps: LookupDeps | undefined;
  const deadline = new InvocationDeadline();
  return async (event, context) => {
    const started = performance.now();
    deadline.begin(context);
    const requestId = event.requestContext?.requestId;
    const audit: Audit = { groups: [], entities: 0, decision: 'invalid' };
    let response: APIGatewayProxyResult;
    try {
      deps ??= makeDeps(deadline);
      response = await route(event, deps, audit);
    } catch (error) {
      if (storeUnavailable(error)) {
        logger.warn('online store unavailable', { requestId, error: error as Error });
        audit.decision = 'unavailable';
        response = problem(
          503,
          'store-unavailable',
          `the online store did not answer in time; retry (request id ${requestId ?? 'unknown'})`,
          undefined,
          {},
          { 'retry-after': '1' },
        );
      } else {
        logger.error('lookup failed', { requestId, error: error as Error });
        response = problem(500, 'internal', `the lookup failed; quote request id ${requestId ?? 'unknown'}`);
      }
    }
    logger.info('lookup', {
      requestId,
      principal: event.requestContext?.identity?.userArn ?? null,
      route: `${event.httpMethod} ${event.resource}`,
      ...audit,
      status: response.statusCode,
      latencyMs: Math.round((performance.now() - started) * 100) / 100,
    });
    return response;
  };
}

export const handler = createHandler((deadline) => {
  const config = readConfig(lookupConfigSchema, process.env);
  return {
    store: new DynamoDbEntityStore({
      tableName: config.ONLINE_TABLE,
      client: refuseNearDeadline(
        new DynamoDBClient(lookupDynamoDbClientConfig(config.LOOKUP_REQUEST_TIMEOUT_MS)),
        deadline,
        lookupDeadlineReserveMs(config.LOOKUP_REQUEST_TIMEOUT_MS),
      ),
    }),
    maxEntities: config.LOOKUP_MAX_ENTITIES,
    rolePrefix: config.ACCESS_ROLE_PREFIX,
  };
});

async function route(
  event: APIGatewayProxyEvent,
  deps: LookupDeps,
  audit: Audit,
): Promise<APIGatewayProxyResult> {
  const now = (deps.now ?? Date.now)();
  const key = `${event.httpMethod} ${event.resource}`;
  if (key === 'GET /v1/features/{group}/{entityId}') {
    const parsed = parseGet(event.pathParameters, event.queryStringParameters);
    if (!parsed.ok) return parsed.problem;
    const { group, entityId, refs } = parsed.value;
    Object.assign(audit, { groups: [group.name], entities: 1 });
    const auth = authorize(deps.rolePrefix, principalOf(event), { groups: [group.name], batch: false });
    if (!auth.ok) return denied(audit, auth);
    Object.assign(audit, { decision: 'allow', role: auth.role.name });
    const entity = { [group.entity.name]: entityId };
    const [row] = await lookupFeatures(deps.store, {
      entities: [entity],
      features: refs,
      sees: auth.sees,
      now,
    });
    const found = row?.events[group.name];
    if (!row || !found) {
      audit.decision = 'not-found';
      const status = row?.features[refs[0]?.ref ?? '']?.status;
      const detail =
        status === 'expired'
          ? `${group.name} features of ${entityId} are older than the group's TTL`
          : `no ${group.name} features for ${entityId}`;
      return problem(404, 'entity-not-found', detail, event.path);
    }
    return json(200, {
      group: group.name,
      entity: { name: group.entity.name, id: entityId },
      ...found,
      freshnessMs: row.freshnessMs[group.name],
      features: Object.fromEntries(refs.map((r) => [r.feature.name, row.features[r.ref]])),
    });
  }
  if (key === 'POST /v1/features:get') {
    const parsed = parsePost(event.body, event.isBase64Encoded, deps.maxEntities);
    if (!parsed.ok) return parsed.problem;
    const { refs, entities } = parsed.value;
    Object.assign(audit, { groups: groupsOf(refs), entities: entities.length });
    const auth = authorize(deps.rolePrefix, principalOf(event), { groups: groupsOf(refs), batch: true });
    if (!auth.ok) return denied(audit, auth);
    Object.assign(audit, { decision: 'allow', role: auth.role.name });
    const rows = await lookupFeatures(deps.store, { entities, features: refs, sees: auth.sees, now });
    return json(200, { asOf: new Date(now).toISOString(), rows: rows.map(toRow) });
  }
  return problem(404, 'no-route', `no route ${event.httpMethod} ${event.path}`);
}

/**
 * The store failed to answer, not the request: out of time (shared/deadline.ts), an attempt timed
 * out, throttled or a server error through every retry, or keys left unprocessed. Worth a retry.
 */
function storeUnavailable(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    error instanceof OutOfTimeError ||
    (error instanceof StoreError && !error.permanent) ||
    e?.name === 'TimeoutError' ||
    e?.name === 'ProvisionedThroughputExceededException' ||
    e?.name === 'ThrottlingException' ||
    e?.name === 'RequestLimitExceeded' ||
    (e?.$metadata?.httpStatusCode ?? 0) >= 500
  );
}

const principalOf = (event: APIGatewayProxyEvent) => event.requestContext?.identity?.userArn ?? null;

function denied(audit: Audit, auth: Extract<Authorization, { ok: false }>): APIGatewayProxyResult {
  Object.assign(audit, { decision: 'deny', reason: auth.reason });
  return auth.problem;
}

const groupsOf = (refs: readonly FeatureRef[]) => [...new Set(refs.map((r) => r.group.name))];
const toRow = (r: LookupRow) => ({ entity: r.entity, features: r.features, freshnessMs: r.freshnessMs });
