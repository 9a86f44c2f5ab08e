import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { LookupApi } from '../../lib/constructs/lookup-api.js';
import { OfflineCatalog } from '../../lib/constructs/offline-catalog.js';
import { PlatformFunction } from '../../lib/constructs/platform-function.js';
import { PlatformTable } from '../../lib/constructs/platform-table.js';
import { SecureBucket } from '../../lib/constructs/secure-bucket.js';
import { StreamEventSource } from '../../lib/constructs/stream-event-source.js';
import { ONLINE_TABLE, STREAM_SOURCE_DEFAULTS } from '../../lib/platform-spec.js';
import { featureGroups } from '../../schemas/index.js';

const newStack = () =>
  new Stack(new App({ builtinCloudFormationValidation: false }), 'Test', {
    env: { account: '111111111111', region: 'me-central-1' },
  });
/** A function that needs no bundling. */
const inlineFunction = (stack: Stack, timeout: Duration) =>
  new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => ({});'),
    timeout,
  });

describe('SecureBucket', () => {
  it('refuses to auto-delete objects of a bucket it retains', () => {
    const stack = newStack();
    expect(
      () => new SecureBucket(stack, 'B', { removalPolicy: RemovalPolicy.RETAIN, autoDeleteObjects: true }),
    ).toThrow('Test/B: autoDeleteObjects needs removalPolicy DESTROY');
  });

  it('refuses an expiration that comes before the tiering transition', () => {
    const stack = newStack();
    expect(
      () => new SecureBucket(stack, 'B', { intelligentTieringAfterDays: 30, expirationDays: 10 }),
    ).toThrow(/expirationDays \(10\) must exceed intelligentTieringAfterDays \(30\)/);
  });

  it('refuses a prefix expiration that is not shorter than the bucket-wide one', () => {
    const stack = newStack();
    expect(
      () =>
        new SecureBucket(stack, 'B', {
          expirationDays: 30,
          prefixExpirations: [{ prefix: 'aws/lambda/', days: 30 }],
        }),
    ).toThrow(/prefixExpirations "aws\/lambda\/" \(30 days\) must be shorter than expirationDays \(30\)/);
  });

  it('locks objects in compliance mode for objectLockDays, and refuses a lock it would have to empty on deletion', () => {
    const stack = newStack();
    new SecureBucket(stack, 'B', { objectLockDays: 2557 });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2557 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    expect(
      () =>
        new SecureBucket(newStack(), 'B', {
          objectLockDays: 30,
          removalPolicy: RemovalPolicy.DESTROY,
          autoDeleteObjects: true,
        }),
    ).toThrow(/B: objectLockDays locks objects that autoDeleteObjects would have to delete/);
    expect(() => new SecureBucket(newStack(), 'B', { objectLockDays: 0 })).toThrow(
      /objectLockDays must be a whole number of days, at least 1 \(got 0\)/,
    );
    // No lock unless asked.
    const plain = newStack();
    new SecureBucket(plain, 'B');
    expect(JSON.stringify(Template.fromStack(plain).toJSON())).not.toContain('ObjectLock');
  });

  it('refuses allowed object keys on a bucket without a KMS default key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'K');
    expect(() => new SecureBucket(stack, 'B', { allowedObjectKeys: [key] })).toThrow(
      'B: allowedObjectKeys needs an encryptionKey (SSE-KMS by default)',
    );
  });

  it('defaults to a retained, TLS-only bucket with SSE-S3 when no key is given', () => {
    const stack = newStack();
    new SecureBucket(stack, 'B');
    const template = Template.fromStack(stack);
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('PlatformTable', () => {
  it('refuses deletion protection on a table the stack destroys', () => {
    const stack = newStack();
    const encryptionKey = new kms.Key(stack, 'K');
    expect(
      () =>
        new PlatformTable(stack, 'T', {
          tableName: 't',
          spec: ONLINE_TABLE,
          encryptionKey,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
    ).toThrow('Test/T: deletionProtection contradicts removalPolicy DESTROY');
  });
});

describe('OfflineCatalog', () => {
  it('refuses a catalog without feature groups', () => {
    expect(
      () => new OfflineCatalog(newStack(), 'C', { databaseName: 'd', bucketName: 'b', groups: [] }),
    ).toThrow('Test/C: groups must not be empty');
  });

  it('refuses a feature group listed twice', () => {
    const [group] = featureGroups;
    if (!group) throw new Error('no feature group defined');
    expect(
      () =>
        new OfflineCatalog(newStack(), 'C', { databaseName: 'd', bucketName: 'b', groups: [group, group] }),
    ).toThrow(`feature group "${group.name}" appears twice`);
  });

  it('refuses a projection start that is not yyyy-MM-dd', () => {
    expect(
      () =>
        new OfflineCatalog(newStack(), 'C', {
          databaseName: 'd',
          bucketName: 'b',
          groups: featureGroups,
          projectionStartDate: '2024/01/01',
        }),
    ).toThrow('projectionStartDate "2024/01/01" must be yyyy-MM-dd');
  });
});

describe('PlatformFunction', () => {
  it('refuses a reserved concurrency of zero, which would disable the function', () => {
    expect(
      () => new PlatformFunction(newStack(), 'F', { handler: 'lookup', reservedConcurrentExecutions: 0 }),
    ).toThrow('Test/F: reservedConcurrentExecutions must be >= 1');
  });

  it('refuses environment variables it sets itself', () => {
    const environment = { NODE_OPTIONS: '--inspect' };
    expect(() => new PlatformFunction(newStack(), 'F', { handler: 'lookup', environment })).toThrow(
      'Test/F: environment sets NODE_OPTIONS, which PlatformFunction owns',
    );
  });
});

describe('StreamEventSource', () => {
  const parts = () => {
    const stack = newStack();
    return {
      stream: new kinesis.Stream(stack, 'S'),
      target: inlineFunction(stack, Duration.seconds(30)),
      onFailureBucket: new s3.Bucket(stack, 'B'),
      stack,
    };
  };

  it('refuses a maximum record age that does not leave the stream an hour to spare', () => {
    const { stack, ...props } = parts();
    expect(
      () => new StreamEventSource(stack, 'E', { ...props, streamRetention: Duration.hours(12) }),
    ).toThrow(
      `Test/E: maxRecordAgeSeconds (${STREAM_SOURCE_DEFAULTS.maxRecordAgeSeconds}) must be at least 3600 s under the stream retention (43200 s)`,
    );
    const settings = { ...STREAM_SOURCE_DEFAULTS, maxRecordAgeSeconds: 24 * 3600 };
    expect(
      () => new StreamEventSource(stack, 'E2', { ...props, settings, streamRetention: Duration.hours(24) }),
    ).toThrow('must be at least 3600 s under the stream retention (86400 s)');
    expect(
      () => new StreamEventSource(stack, 'E3', { ...props, streamRetention: Duration.hours(24) }),
    ).not.toThrow();
  });

  it('refuses a batching window that is not whole seconds', () => {
    const { stack, ...props } = parts();
    const settings = { ...STREAM_SOURCE_DEFAULTS, maxBatchingWindowMs: 500 };
    expect(
      () => new StreamEventSource(stack, 'E', { ...props, settings, streamRetention: Duration.days(7) }),
    ).toThrow('maxBatchingWindowMs (500) must be whole seconds');
  });

  it('refuses a parallelization factor above 1 while a group needs its shard in order', () => {
    const { stack, ...props } = parts();
    const settings = { ...STREAM_SOURCE_DEFAULTS, parallelizationFactor: 4 };
    expect(
      () =>
        new StreamEventSource(stack, 'E', {
          ...props,
          settings,
          streamRetention: Duration.days(7),
          groupsNeedingShardOrder: ['merchant'],
        }),
    ).toThrow('Test/E: parallelizationFactor 4 needs every feature group keyed by its stream');
  });

  it('accepts a parallelization factor of 10 when every group is keyed by the partition key', () => {
    const { stack, ...props } = parts();
    const settings = { ...STREAM_SOURCE_DEFAULTS, parallelizationFactor: 10 };
    const source = new StreamEventSource(stack, 'E', {
      ...props,
      settings,
      streamRetention: Duration.days(7),
    });
    expect(source.eventSource).toBeDefined();
  });
});

describe('LookupApi', () => {
  it('refuses a handler that may run longer than API Gateway waits', () => {
    const stack = newStack();
    const handler = inlineFunction(stack, Duration.seconds(60));
    expect(() => new LookupApi(stack, 'A', { restApiName: 'a', handler })).toThrow(
      "Test/A: handler timeout 60 s exceeds API Gateway's 29 s integration limit",
    );
  });

  it('refuses a burst limit below the rate limit', () => {
    const stack = newStack();
    const handler = inlineFunction(stack, Duration.seconds(10));
    expect(
      () =>
        new LookupApi(stack, 'A', {
          restApiName: 'a',
          handler,
          throttlingRateLimit: 100,
          throttlingBurstLimit: 10,
        }),
    ).toThrow('throttlingBurstLimit (10) is below throttlingRateLimit (100)');
  });

  it('refuses a route that is not an absolute path', () => {
    const stack = newStack();
    const handler = inlineFunction(stack, Duration.seconds(10));
    expect(
      () =>
        new LookupApi(stack, 'A', {
          restApiName: 'a',
          handler,
          routes: [{ method: 'GET', resource: 'v1/x' }],
        }),
    ).toThrow('route resource "v1/x" must start with /');
  });

  it.each([
    [[], 'Test/A: vpcEndpointIds is empty; leave it out for a regional API'],
    [
      ['vpc-0123456789abcdef0'],
      'Test/A: vpcEndpointIds: vpc-0123456789abcdef0 is not an interface VPC endpoint id',
    ],
  ])('refuses vpcEndpointIds %j', (vpcEndpointIds, message) => {
    const stack = newStack();
    const handler = inlineFunction(stack, Duration.seconds(10));
    expect(() => new LookupApi(stack, 'A', { restApiName: 'a', handler, vpcEndpointIds })).toThrow(message);
  });
});
