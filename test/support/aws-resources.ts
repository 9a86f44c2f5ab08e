/** Creates the platform's resources on the shared stand-ins under a unique prefix, for one test file. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { type ResourceNames, resourceNames } from '../../lib/platform-spec.js';
import { localDynamoDbClient, localKinesisClient, localS3Client } from '../../local/clients.js';
import { provision } from '../../local/provision.js';
import type { StandInEndpoints } from '../../local/stand-ins.js';
import { uniquePrefix } from './resources.js';

export interface TestResources {
  readonly names: ResourceNames;
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
}

export async function provisionTestResources(
  endpoints: StandInEndpoints,
  shardCount = 1,
): Promise<TestResources> {
  const names = resourceNames(uniquePrefix('it'));
  const clients = {
    kinesis: localKinesisClient(endpoints),
    dynamodb: localDynamoDbClient(endpoints),
    s3: localS3Client(endpoints),
  };
  await provision(clients, names, shardCount);
  return { names, ...clients };
}
