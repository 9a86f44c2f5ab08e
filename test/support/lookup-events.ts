/** API Gateway events of the lookup API, as its tests send them. */
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** GET /v1/features/{group}/{entityId}, signed by the given role of a deployment prefix. */
export const lookupGetEvent = (
  group: string,
  entityId: string,
  { rolePrefix, role, requestId }: { rolePrefix: string; role: string; requestId: string },
): APIGatewayProxyEvent =>
  ({
    httpMethod: 'GET',
    resource: '/v1/features/{group}/{entityId}',
    path: `/v1/features/${group}/${entityId}`,
    pathParameters: { group, entityId },
    queryStringParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      requestId,
      identity: { userArn: `arn:aws:sts::111111111111:assumed-role/${rolePrefix}-${role}/s` },
    },
  }) as unknown as APIGatewayProxyEvent;
