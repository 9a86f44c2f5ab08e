/**
 * The deployed functions' environments against the schemas their composition roots parse
 * (lambdas/shared/config.ts): a renamed, missing or local-only variable fails here, not on the
 * first invocation in AWS.
 */
import { describe, expect, it } from 'vitest';
import {
  lookupConfigSchema,
  processorConfigSchema,
  readConfig,
  retentionConfigSchema,
} from '../../lambdas/shared/config.js';
import { deadlineReserves } from '../../lambdas/shared/deadline.js';
import { offlineGroupPrefix, PROCESSOR_TIMEOUT_SECONDS } from '../../lib/platform-spec.js';
import { ENVIRONMENTS, logicalId, pick, synthesizeAll } from './platform-fixture.js';
import { GROUP_KEY } from './rbac-expectations.js';

const all = synthesizeAll({ bundling: false });

/**
 * A function's Variables as the runtime would see them: literals as they are, CloudFormation
 * references (Ref, Fn::GetAtt, Fn::ImportValue, Fn::Join...) as a non-empty placeholder naming them.
 */
function runtimeEnvironment(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : `<cfn:${JSON.stringify(value)}>`,
    ]),
  );
}

describe.each(ENVIRONMENTS)('function configuration (%s)', (name) => {
  const env = pick(all, name);
  const d = env.deployment;
  const variablesOf = (template: typeof env.ingest, functionName: string) => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.FunctionName === functionName,
    );
    if (!fn) throw new Error(`function ${functionName} not found`);
    return fn.Properties.Environment.Variables as Record<string, unknown>;
  };

  it('gives the processor every variable processorConfigSchema requires, and only the AWS key locations', () => {
    const variables = variablesOf(env.ingest, d.names.processorFunction);
    const config = readConfig(processorConfigSchema, runtimeEnvironment(variables));
    expect(config).toMatchObject({
      ONLINE_TABLE: d.names.onlineTable,
      OFFLINE_BUCKET: d.names.offlineBucket,
      SIDE_OUTPUT_BUCKET: d.names.sideOutputBucket,
      S3_FORCE_PATH_STYLE: 'false',
      // The environment's layout (1 unless cdk.json raises it), not the local runs' newest.
      ENTITY_ITEM_LAYOUT: String(d.environment.entityItemLayout),
    });
    // Local-only variables would put key material in the function's configuration.
    expect(variables).not.toHaveProperty('PII_TOKEN_KEY');
    expect(variables).not.toHaveProperty('PII_SEAL_KEY');
    expect(variables).not.toHaveProperty('S3_FORCE_PATH_STYLE');
    expect(JSON.stringify(variables.PII_TOKEN_SECRET_ARN)).toContain(
      d.data.getLogicalId(d.data.piiTokenSecret.secret),
    );
    expect(JSON.stringify(variables.PII_KMS_KEY_ID)).toContain(logicalId(d.data, d.data.keys.pii));
  });

  it('parks a record whose entity write still fails an hour before the event source mapping would give up on it', () => {
    const config = readConfig(
      processorConfigSchema,
      runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction)),
    );
    const mappings = Object.values(env.ingest.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(1);
    const maxAge = mappings[0]?.Properties.MaximumRecordAgeInSeconds as number;
    expect(maxAge).toBe(23 * 3600);
    expect(config.PARK_AFTER_AGE_SECONDS).toBe(maxAge - 3600);
  });

  it("leaves the processor's calls more time than they keep for the end of the invocation (shared/deadline.ts)", () => {
    const fn = Object.values(env.ingest.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.FunctionName === d.names.processorFunction,
    );
    const config = readConfig(
      processorConfigSchema,
      runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction)),
    );
    const timeoutMs = (fn?.Properties.Timeout as number) * 1000;
    expect(timeoutMs).toBe(PROCESSOR_TIMEOUT_SECONDS * 1000);
    // DynamoDB writes stop first: a batch of every call timing out still has minutes of them.
    expect(
      timeoutMs - deadlineReserves(config.SDK_REQUEST_TIMEOUT_MS).dynamoDbWritesMs,
    ).toBeGreaterThanOrEqual(3 * 60_000);
  });

  it('keeps holes for the stream retention and a day', () => {
    const config = readConfig(
      processorConfigSchema,
      runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction)),
    );
    expect(config.HOLE_TTL_SECONDS).toBe((d.environment.retentionHours + 24) * 3600);
    const variables = runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction));
    for (const bad of ['long', '3600.5', '86400'])
      expect(() => readConfig(processorConfigSchema, { ...variables, HOLE_TTL_SECONDS: bad })).toThrow(
        /HOLE_TTL_SECONDS must be/,
      );
  });

  it('would refuse a park age that is not a whole number of seconds, naming it', () => {
    const variables = runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction));
    for (const bad of ['soon', '1.5', '10'])
      expect(() => readConfig(processorConfigSchema, { ...variables, PARK_AFTER_AGE_SECONDS: bad })).toThrow(
        /PARK_AFTER_AGE_SECONDS must be/,
      );
  });

  it("has the processor write each group's offline history under the key its data scientists may decrypt", () => {
    const variables = variablesOf(env.ingest, d.names.processorFunction);
    const config = readConfig(processorConfigSchema, runtimeEnvironment(variables));
    // Merchant history holds no PII: the general key, not the bucket's default (the PII key).
    expect(config.OFFLINE_OBJECT_KEYS).toEqual({ 'features/group=merchant/': 'general' });
    expect(JSON.stringify(variables.GENERAL_KMS_KEY_ID)).toContain(logicalId(d.data, d.data.keys.general));
    // The bucket's default is the PII key; the RBAC matrix grants decryption by GROUP_KEY.
    const bucket = env.data.findResources('AWS::S3::Bucket');
    const offline = Object.values(bucket).find((b) => b.Properties.BucketName === d.names.offlineBucket);
    expect(
      JSON.stringify(offline?.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]),
    ).toContain(logicalId(d.data, d.data.keys.pii));
    for (const [group, keyClass] of Object.entries(GROUP_KEY))
      expect(config.OFFLINE_OBJECT_KEYS[offlineGroupPrefix(group)] ?? 'pii', group).toBe(keyClass);
  });

  it('would refuse offline object keys that are not JSON, name an unknown key class or lack their key', () => {
    const variables = runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction));
    const refused = (patch: Record<string, string | undefined>) => () =>
      readConfig(processorConfigSchema, { ...variables, ...patch });
    expect(refused({ OFFLINE_OBJECT_KEYS: '{merchant' })).toThrow(
      /OFFLINE_OBJECT_KEYS must be a JSON object/,
    );
    expect(refused({ OFFLINE_OBJECT_KEYS: '{"features/group=merchant/":"public"}' })).toThrow(
      /OFFLINE_OBJECT_KEYS.* must be a JSON object/,
    );
    expect(refused({ OFFLINE_OBJECT_KEYS: '{"merchant":"general"}' })).toThrow(
      /OFFLINE_OBJECT_KEYS.* must be/,
    );
    expect(refused({ GENERAL_KMS_KEY_ID: undefined })).toThrow(
      /OFFLINE_OBJECT_KEYS names a key class whose key is not set \(GENERAL_KMS_KEY_ID/,
    );
  });

  it('gives the offline retention function every variable retentionConfigSchema requires', () => {
    const variables = variablesOf(env.ingest, `${d.names.prefix}-offline-retention`);
    expect(readConfig(retentionConfigSchema, runtimeEnvironment(variables))).toEqual({
      OFFLINE_BUCKET: d.names.offlineBucket,
      OFFLINE_RETENTION_DAYS: d.environment.offlineRetentionDays,
    });
  });

  it('gives the lookup every variable lookupConfigSchema requires', () => {
    const variables = variablesOf(env.serving, d.names.lookupFunction);
    expect(readConfig(lookupConfigSchema, runtimeEnvironment(variables))).toMatchObject({
      ONLINE_TABLE: d.names.onlineTable,
      ACCESS_ROLE_PREFIX: d.names.prefix,
    });
  });

  it.each(['ONLINE_TABLE', 'OFFLINE_BUCKET', 'SIDE_OUTPUT_BUCKET', 'PII_TOKEN_SECRET_ARN', 'PII_KMS_KEY_ID'])(
    'would refuse the processor configuration without %s',
    (variable) => {
      const variables = runtimeEnvironment(variablesOf(env.ingest, d.names.processorFunction));
      delete variables[variable];
      expect(() => readConfig(processorConfigSchema, variables)).toThrow(new RegExp(variable));
    },
  );
});
