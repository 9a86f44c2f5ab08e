/**
 * SDK clients configured for the stand-ins, with the settings each one needs (DESIGN.md):
 * Kinesis over HTTP/1.1, S3 path-style with checksums only when required.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { S3_COMPATIBLE_ENDPOINT } from '../lambdas/shared/config.js';
import type { StandInEndpoints } from './stand-ins.js';

// A copy of the credentials each time: the SDK annotates the object it is given.
const base = (e: StandInEndpoints) => ({ region: e.region, credentials: { ...e.credentials } });

export const localKinesisClient = (e: StandInEndpoints) =>
  new KinesisClient({ ...base(e), endpoint: e.kinesis, requestHandler: new NodeHttpHandler() });

export const localDynamoDbClient = (e: StandInEndpoints) =>
  new DynamoDBClient({ ...base(e), endpoint: e.dynamodb });

export const localS3Client = (e: StandInEndpoints) =>
  new S3Client({ ...base(e), endpoint: e.s3, ...S3_COMPATIBLE_ENDPOINT });
