import { contracts, featureGroups, groupsFedBy } from '../../schemas/index.js';
import { DynamoDbEntityStore } from '../adapters/dynamodb-entity-store.js';
import { S3OfflineSink } from '../adapters/s3-offline-sink.js';
import { S3SideOutput } from '../adapters/s3-side-output.js';
import type { ProcessorDeps } from '../core/process-batch.js';
import { dynamoDbClientConfig, type ProcessorConfig, s3ClientConfig } from '../shared/config.js';

/** The processor's adapters, chosen by configuration. */
export function createProcessorDeps(config: ProcessorConfig): ProcessorDeps {
  const s3Config = s3ClientConfig(config.S3_FORCE_PATH_STYLE === 'true');
  return {
    contracts,
    groupsFedBy,
    entities: new DynamoDbEntityStore({
      tableName: config.ONLINE_TABLE,
      clientConfig: dynamoDbClientConfig(),
    }),
    offline: new S3OfflineSink({
      bucket: config.OFFLINE_BUCKET,
      groups: featureGroups,
      clientConfig: s3Config,
    }),
    sideOutput: new S3SideOutput({ bucket: config.SIDE_OUTPUT_BUCKET, clientConfig: s3Config }),
  };
}
