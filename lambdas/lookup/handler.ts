/**
 * Lookup API (API Gateway REST proxy, IAM-authorised). Thin: route, validate the path against the
 * feature group definition, call the core, map to JSON or problem+json. Bad input is always a 4xx
 * with a message; an unexpected error is a 500 problem without internals, logged with its request id.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { featureGroupsByName } from '../../schemas/index.js';
import { DynamoDbEntityStore } from '../adapters/dynamodb-entity-store.js';
import { lookupEntity } from '../core/lookup.js';
import type { EntityStore } from '../core/ports.js';
import { dynamoDbClientConfig, lookupConfigSchema, readConfig } from '../shared/config.js';
import { json, problem } from './http.js';

const logger = new Logger({ serviceName: 'feature-lookup' });
let store: EntityStore | undefined;

const ROUTE = '/v1/features/{group}/{entityId}';

export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const started = performance.now();
  const requestId = event.requestContext?.requestId;
  let response: APIGatewayProxyResult;
  try {
    response = await route(event);
  } catch (error) {
    logger.error('lookup failed', { requestId, error: error as Error });
    response = problem(500, 'internal', `the lookup failed; quote request id ${requestId ?? 'unknown'}`);
  }
  logger.info('lookup', {
    requestId,
    principal: event.requestContext?.identity?.userArn ?? null,
    route: event.resource,
    group: event.pathParameters?.group ?? null,
    status: response.statusCode,
    latencyMs: Math.round((performance.now() - started) * 100) / 100,
  });
  return response;
};

async function route(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  if (event.resource !== ROUTE) return problem(404, 'no-route', `no route ${event.httpMethod} ${event.path}`);
  if (event.httpMethod !== 'GET')
    return problem(405, 'method', `${event.httpMethod} is not allowed on ${ROUTE}`);
  const groupName = event.pathParameters?.group ?? '';
  const entityId = event.pathParameters?.entityId ?? '';
  const group = featureGroupsByName.get(groupName);
  if (!group) {
    return problem(400, 'unknown-group', `unknown feature group "${groupName.slice(0, 64)}"`, event.path, {
      groups: [...featureGroupsByName.keys()],
    });
  }
  const id = group.entity.idSchema.safeParse(entityId);
  if (!id.success) {
    const why = id.error.issues.map((i) => i.message).join('; ');
    return problem(400, 'invalid-entity-id', `${group.entity.name} is malformed: ${why}`, event.path);
  }
  store ??= new DynamoDbEntityStore({
    tableName: readConfig(lookupConfigSchema, process.env).ONLINE_TABLE,
    clientConfig: dynamoDbClientConfig(),
  });
  const result = await lookupEntity(group, id.data, store, Date.now());
  if (!result.found) {
    const detail =
      result.reason === 'expired'
        ? `${group.name} features of ${id.data} are older than the group's TTL`
        : `no ${group.name} features for ${id.data}`;
    return problem(404, 'entity-not-found', detail, event.path);
  }
  return json(200, result.features);
}
