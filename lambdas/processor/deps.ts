import { KMSClient } from '@aws-sdk/client-kms';
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

/** The processor's adapters, chosen by configuration (AWS services in AWS, local keys on `npm start`). */
export function createProcessorDeps(config: ProcessorConfig): ProcessorDeps {
  const s3Config = s3ClientConfig(config.S3_FORCE_PATH_STYLE === 'true', config.SDK_REQUEST_TIMEOUT_MS);
  const sdk = sdkClientConfig(config.SDK_REQUEST_TIMEOUT_MS);
  const tokenKey = config.PII_TOKEN_SECRET_ARN
    ? secretsManagerKey({ secretId: config.PII_TOKEN_SECRET_ARN, clientConfig: { ...sdk } })
    : async () => keyFromBase64(config.PII_TOKEN_KEY as string, 'PII_TOKEN_KEY');
  const dataKeys = config.PII_KMS_KEY_ID
    ? kmsDataKeys({ kms: new KMSClient({ ...sdk }), keyId: config.PII_KMS_KEY_ID })
    : localDataKey(keyFromBase64(config.PII_SEAL_KEY as string, 'PII_SEAL_KEY').subarray(0, 32));
  return {
    contracts,
    groupsFedBy,
    entities: new DynamoDbEntityStore({
      tableName: config.ONLINE_TABLE,
      clientConfig: dynamoDbClientConfig(config.SDK_REQUEST_TIMEOUT_MS),
      writeLayout: Number(config.ENTITY_ITEM_LAYOUT) as ItemLayout,
    }),
    offline: new S3OfflineSink({
      bucket: config.OFFLINE_BUCKET,
      parkBucket: config.SIDE_OUTPUT_BUCKET,
      clientConfig: s3Config,
      objectKeyIds: Object.fromEntries(
        Object.entries(config.OFFLINE_OBJECT_KEYS).map(([prefix, k]) => [
          prefix,
          offlineKeyId(config, k) as string,
        ]),
      ),
    }),
    sideOutput: new S3SideOutput({
      bucket: config.SIDE_OUTPUT_BUCKET,
      clientConfig: s3Config,
      sealer: new AesGcmSealer(dataKeys),
    }),
    tokenizer: new HmacTokenizer(tokenKey),
    ...(config.PARK_AFTER_AGE_SECONDS === undefined
      ? {}
      : { parkAfterMs: config.PARK_AFTER_AGE_SECONDS * 1000 }),
    ...(config.HOLE_TTL_SECONDS === undefined ? {} : { holeTtlMs: config.HOLE_TTL_SECONDS * 1000 }),
  };
}
