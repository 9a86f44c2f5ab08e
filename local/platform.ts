/**
 * The whole platform on one machine: stand-ins, resources provisioned from lib/platform-spec.ts,
 * the real processor handler behind a local event source mapping, the real lookup handler behind
 * a local API Gateway, and `.local/endpoints.json` for producers that know nothing of this code.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LATEST_ITEM_LAYOUT } from '../lambdas/adapters/entity-item-codec.js';
import {
  assertParallelizationSafe,
  HANDLER_ENTRIES,
  type HandlerName,
  lookupEnvironment,
  PROCESSOR_TIMEOUT_SECONDS,
  processorEnvironment,
  REPO_ROOT,
  type ResourceNames,
  resourceNames,
  type StreamSourceSettings,
} from '../lib/platform-spec.js';
import { groupsNeedingShardOrder } from '../schemas/index.js';
import { type LocalApi, startLocalApi } from './api-server.js';
import { localDynamoDbClient, localKinesisClient, localS3Client } from './clients.js';
import { type KinesisHandler, LocalEventSourceMapping } from './event-source-mapping.js';
import { localIdentities } from './iam-auth.js';
import { S3OnFailureDestination } from './on-failure-destination.js';
import { provision } from './provision.js';
import { type StandInEndpoints, type StandIns, startStandIns } from './stand-ins.js';

export interface LocalPlatformOptions {
  /** Resource name prefix. @default 'fp-local' */
  readonly prefix?: string;
  /** Stand-ins to use (tests share one set); otherwise the platform starts and stops its own. */
  readonly standIns?: StandInEndpoints;
  /** Where `endpoints.json` is written. @default '<repo>/.local' */
  readonly stateDir?: string;
  /** Port of the lookup API on 127.0.0.1. @default 0 (a free port) */
  readonly apiPort?: number;
  /** @default 2 */
  readonly shardCount?: number;
  /** Overrides of the event source mapping settings (the deployed defaults otherwise). */
  readonly streamSource?: Partial<StreamSourceSettings>;
}

/** What `.local/endpoints.json` holds: everything a producer or client in any language needs. */
export interface LocalEndpoints {
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly kinesis: { readonly endpoint: string; readonly streamName: string };
  readonly dynamodb: {
    readonly endpoint: string;
    readonly onlineTable: string;
  };
  readonly s3: {
    readonly endpoint: string;
    readonly forcePathStyle: true;
    readonly offlineBucket: string;
    readonly sideOutputBucket: string;
  };
  readonly api: {
    readonly url: string;
    readonly example: string;
    /**
     * Local credentials of every declared access role (lib/access-roles.ts): the lookup API takes
     * requests signed (SigV4, `execute-api`) by one of them, as API Gateway's IAM auth does.
     */
    readonly roles: Readonly<
      Record<string, { readonly accessKeyId: string; readonly secretAccessKey: string; readonly arn: string }>
    >;
  };
  readonly envelope: { readonly description: string; readonly example: unknown };
}

export interface LocalPlatform {
  readonly endpoints: LocalEndpoints;
  readonly endpointsFile: string;
  readonly names: ResourceNames;
  readonly standIns: StandInEndpoints;
  readonly eventSourceMapping: LocalEventSourceMapping;
  /** Stops the mapping, the API and (if it started them) the stand-ins. Safe to call twice. */
  stop(): Promise<void>;
}

/** A signed curl call (curl 7.75+ signs SigV4 itself). */
export const curlExample = (
  url: string,
  path: string,
  region: string,
  identity?: { accessKeyId: string; secretAccessKey: string },
): string =>
  `curl -s --aws-sigv4 "aws:amz:${region}:execute-api" --user "${identity?.accessKeyId}:${identity?.secretAccessKey}" ${url}${path}`;

/** The exact modules the CDK app bundles (lib/platform-spec.ts HANDLER_ENTRIES). */
export async function importHandler<T>(name: HandlerName): Promise<T> {
  const mod = (await import(pathToFileURL(join(REPO_ROOT, HANDLER_ENTRIES[name])).href)) as { handler: T };
  return mod.handler;
}

/** What points the AWS SDK, in this process, at the stand-ins (region, credentials, endpoints). */
export const standInSdkEnvironment = (standIns: StandInEndpoints): Record<string, string> => ({
  AWS_REGION: standIns.region,
  AWS_ACCESS_KEY_ID: standIns.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: standIns.credentials.secretAccessKey,
  AWS_ENDPOINT_URL_DYNAMODB: standIns.dynamodb,
  AWS_ENDPOINT_URL_S3: standIns.s3,
});

/** The environment the deployed functions get from CDK, plus what points the SDK at the stand-ins. */
function configureFunctionEnvironment(standIns: StandInEndpoints, names: ResourceNames): void {
  Object.assign(process.env, {
    ...standInSdkEnvironment(standIns),
    S3_FORCE_PATH_STYLE: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    // Local stand-ins for Secrets Manager and KMS: fresh random keys for each run.
    PII_TOKEN_KEY: process.env.PII_TOKEN_KEY ?? randomBytes(32).toString('base64'),
    PII_SEAL_KEY: process.env.PII_SEAL_KEY ?? randomBytes(32).toString('base64'),
    ...processorEnvironment(names, LATEST_ITEM_LAYOUT),
    ...lookupEnvironment(names),
    // DynamoDB Local (a JVM) may take more than the deployed second on a busy machine.
    LOOKUP_REQUEST_TIMEOUT_MS: '5000',
  });
}

export async function startLocalPlatform(options: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  const names = resourceNames(options.prefix ?? 'fp-local');
  const own: StandIns | undefined = options.standIns ? undefined : await startStandIns();
  const standIns = options.standIns ?? (own as StandIns).endpoints;
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  if (own) cleanups.push(() => (own as StandIns).stop());
  try {
    const kinesis = localKinesisClient(standIns);
    const s3 = localS3Client(standIns);
    const dynamodb = localDynamoDbClient(standIns);
    cleanups.push(async () => {
      kinesis.destroy();
      s3.destroy();
      dynamodb.destroy();
    });
    await provision({ kinesis, dynamodb, s3 }, names, options.shardCount ?? 2);
    configureFunctionEnvironment(standIns, names);

    const processor = await importHandler<KinesisHandler>('processor');
    const lookup = await importHandler<(e: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>>('lookup');

    assertParallelizationSafe(options.streamSource?.parallelizationFactor ?? 1, groupsNeedingShardOrder());
    const eventSourceMapping = new LocalEventSourceMapping({
      kinesis,
      streamName: names.stream,
      handler: processor,
      settings: options.streamSource ?? {},
      // No prefix: objects land under aws/lambda/..., where AWS's S3 on-failure destination puts them.
      onFailure: new S3OnFailureDestination({ s3, bucket: names.sideOutputBucket }),
      region: standIns.region,
      functionName: names.processorFunction,
      functionTimeoutMs: PROCESSOR_TIMEOUT_SECONDS * 1000,
    });
    await eventSourceMapping.start();
    cleanups.push(() => eventSourceMapping.stop());

    const identities = localIdentities(names.prefix);
    const api: LocalApi = await startLocalApi(lookup, options.apiPort ?? 0, {
      identities,
      region: standIns.region,
    });
    const fraud = identities.find((i) => i.role === 'consumer-fraud-scoring') ?? identities[0];
    cleanups.push(() => api.close());

    const endpoints: LocalEndpoints = {
      region: standIns.region,
      credentials: {
        accessKeyId: standIns.credentials.accessKeyId,
        secretAccessKey: standIns.credentials.secretAccessKey,
      },
      kinesis: { endpoint: standIns.kinesis, streamName: names.stream },
      dynamodb: { endpoint: standIns.dynamodb, onlineTable: names.onlineTable },
      s3: {
        endpoint: standIns.s3,
        forcePathStyle: true,
        offlineBucket: names.offlineBucket,
        sideOutputBucket: names.sideOutputBucket,
      },
      api: {
        url: api.url,
        example: curlExample(api.url, '/v1/features/customer/cus_000001', standIns.region, fraud),
        roles: Object.fromEntries(
          identities.map((i) => [
            i.role,
            { accessKeyId: i.accessKeyId, secretAccessKey: i.secretAccessKey, arn: i.arn },
          ]),
        ),
      },
      envelope: {
        description: 'Each record is UTF-8 JSON {contract, version, event}; partition key = the customer id',
        example: {
          contract: 'transaction',
          version: 1,
          event: {
            eventId: 'evt_0000000001',
            customerId: 'cus_000001',
            merchantId: 'mer_00001',
            amountMinor: 12500,
            currency: 'AED',
            country: 'AE',
            channel: 'pos',
            customerEmail: 'someone@example.ae',
            eventTime: '2026-11-25T10:00:00Z',
          },
        },
      },
    };
    const stateDir = options.stateDir ?? join(REPO_ROOT, '.local');
    mkdirSync(stateDir, { recursive: true });
    const endpointsFile = join(stateDir, 'endpoints.json');
    writeFileSync(endpointsFile, `${JSON.stringify(endpoints, null, 2)}\n`);

    let stopped: Promise<void> | undefined;
    return {
      endpoints,
      endpointsFile,
      names,
      standIns,
      eventSourceMapping,
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
