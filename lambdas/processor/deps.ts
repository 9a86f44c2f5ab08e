import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { contracts, groupsFedBy } from '../../schemas/index.js';
import { AesGcmSealer, kmsDataKeys, localDataKey } from '../adapters/aes-gcm-sealer.js';
import { DynamoDbEntityStore } from '../adapters/dynamodb-entity-store.js';
import type { ItemLayout } from '../adapters/entity-item-codec.js';
import { keyFromBase64, secretsManagerKey } from '../adapters/hmac-tokenizer.js';
import { S3OfflineSink } from '../adapters/s3-offline-sink.js';
import { S3SideOutput } from '../adapters/s3-side-output.js';
import type { ProcessorDeps } from '../core/process-batch.js';
import { HmacTokenizer } from '../core/tokens.js';
import {
  dynamoDbClientConfig,
  offlineKeyId,
  type ProcessorConfig,
  s3ClientConfig,
  sdkClientConfig,
} from '../shared/config.js';
import {
  deadlineReserves,
  dynamoDbReserve,
  type InvocationDeadline,
  refuseNearDeadline,
} from '../shared/deadline.js';

/**
 * The processor's adapters, chosen by configuration (AWS services in AWS, local keys on `npm start`).
 * With a `deadline`, their AWS calls stop short of the invocation's end (shared/deadline.ts): DynamoDB
 * writes first, then its reads, then S3, KMS and Secrets Manager.
 */
export function createProcessorDeps(config: ProcessorConfig, deadline?: InvocationDeadline): ProcessorDeps {
  const sdk = sdkClientConfig(config.SDK_REQUEST_TIMEOUT_MS);
  const reserves = deadlineReserves(config.SDK_REQUEST_TIMEOUT_MS);
  const guarded = <C extends Parameters<typeof refuseNearDeadline>[0]>(
    client: C,
    reserveMs: Parameters<typeof refuseNearDeadline>[2],
  ): C => (deadline ? refuseNearDeadline(client, deadline, reserveMs) : client);
  const s3 = guarded(
    new S3Client(s3ClientConfig(config.S3_FORCE_PATH_STYLE === 'true', config.SDK_REQUEST_TIMEOUT_MS)),
    reserves.s3Ms,
  );
  const tokenKey = config.PII_TOKEN_SECRET_ARN
    ? secretsManagerKey({
        secretId: config.PII_TOKEN_SECRET_ARN,
        client: guarded(new SecretsManagerClient({ ...sdk }), reserves.s3Ms),
      })
    : async () => keyFromBase64(config.PII_TOKEN_KEY as string, 'PII_TOKEN_KEY');
  const dataKeys = config.PII_KMS_KEY_ID
    ? kmsDataKeys({ kms: guarded(new KMSClient({ ...sdk }), reserves.s3Ms), keyId: config.PII_KMS_KEY_ID })
    : localDataKey(keyFromBase64(config.PII_SEAL_KEY as string, 'PII_SEAL_KEY').subarray(0, 32));
  return {
    contracts,
    groupsFedBy,
    entities: new DynamoDbEntityStore({
      tableName: config.ONLINE_TABLE,
      client: guarded(
        new DynamoDBClient(dynamoDbClientConfig(config.SDK_REQUEST_TIMEOUT_MS)),
        dynamoDbReserve(reserves),
      ),
      writeLayout: Number(config.ENTITY_ITEM_LAYOUT) as ItemLayout,
    }),
    offline: new S3OfflineSink({
      bucket: config.OFFLINE_BUCKET,
      parkBucket: config.SIDE_OUTPUT_BUCKET,
      client: s3,
      objectKeyIds: Object.fromEntries(
        Object.entries(config.OFFLINE_OBJECT_KEYS).map(([prefix, k]) => [
          prefix,
          offlineKeyId(config, k) as string,
        ]),
      ),
    }),
    sideOutput: new S3SideOutput({
      bucket: config.SIDE_OUTPUT_BUCKET,
      client: s3,
      sealer: new AesGcmSealer(dataKeys),
    }),
    tokenizer: new HmacTokenizer(tokenKey),
    ...(config.PARK_AFTER_AGE_SECONDS === undefined
      ? {}
      : { parkAfterMs: config.PARK_AFTER_AGE_SECONDS * 1000 }),
    ...(config.HOLE_TTL_SECONDS === undefined ? {} : { holeTtlMs: config.HOLE_TTL_SECONDS * 1000 }),
  };
}
