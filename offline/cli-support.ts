/**
 * What the offline CLIs share: SDK client settings for AWS or for the local stand-ins (from
 * `.local/endpoints.json`, which `npm start` writes), and argument helpers.
 */
import { readFileSync } from 'node:fs';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { KMSClient } from '@aws-sdk/client-kms';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { AesGcmSealer, kmsDataKeys, localDataKey } from '../lambdas/adapters/aes-gcm-sealer.js';
import { keyFromBase64 } from '../lambdas/adapters/hmac-tokenizer.js';
import type { LocalEndpoints } from '../local/platform.js';
import { OfflineError } from './errors.js';

export interface Target {
  readonly s3: S3ClientConfig;
  readonly dynamodb: DynamoDBClientConfig;
  readonly kinesis: KinesisClientConfig;
  readonly streamName?: string;
  readonly offlineBucket?: string;
  readonly sideOutputBucket?: string;
  readonly onlineTable?: string;
}

/** Clients for the local stand-ins (settings DESIGN.md requires for s3rver), or AWS defaults. */
export function targetFrom(options: { endpoints?: string; region?: string }): Target {
  if (!options.endpoints) {
    const region = options.region ? { region: options.region } : {};
    return {
      s3: { ...region, maxAttempts: 5 },
      dynamodb: { ...region, maxAttempts: 5 },
      kinesis: { ...region, maxAttempts: 5 },
    };
  }
  let e: LocalEndpoints;
  try {
    e = JSON.parse(readFileSync(options.endpoints, 'utf8')) as LocalEndpoints;
  } catch (error) {
    throw new OfflineError(
      `cannot read ${options.endpoints} (run npm start first?): ${(error as Error).message}`,
    );
  }
  const base = { region: e.region, credentials: { ...e.credentials } };
  return {
    s3: {
      ...base,
      endpoint: e.s3.endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    },
    dynamodb: { ...base, endpoint: e.dynamodb.endpoint },
    // kinesalite speaks HTTP/1.1 only (local/clients.ts).
    kinesis: { ...base, endpoint: e.kinesis.endpoint, requestHandler: new NodeHttpHandler() },
    streamName: e.kinesis.streamName,
    offlineBucket: e.s3.offlineBucket,
    sideOutputBucket: e.s3.sideOutputBucket,
    onlineTable: e.dynamodb.onlineTable,
  };
}

/** `a=b` pairs into a record. */
export function pairs(values: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(v);
    if (!m) throw new OfflineError(`--${flag} takes name=value, not "${v}"`);
    out[m[1] as string] = m[2] as string;
  }
  return out;
}

export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new OfflineError(`--${flag} is required`);
  return value;
}

/**
 * What opens sealed side-output payloads: the PII key in KMS (`--pii-kms-key-id`, AWS), or the local
 * platform's key (`PII_SEAL_KEY`); neither, undefined.
 */
export function sealerFrom(options: { keyId?: string; region?: string }): AesGcmSealer | undefined {
  if (options.keyId) {
    const kms = new KMSClient(options.region ? { region: options.region } : {});
    return new AesGcmSealer(kmsDataKeys({ kms, keyId: options.keyId }));
  }
  const local = process.env.PII_SEAL_KEY;
  return local
    ? new AesGcmSealer(localDataKey(keyFromBase64(local, 'PII_SEAL_KEY').subarray(0, 32)))
    : undefined;
}
