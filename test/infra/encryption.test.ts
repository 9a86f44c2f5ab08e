import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS, logicalId, pick, synthesizeAll } from './platform-fixture.js';
import { asArray, type Statement } from './policy-statements.js';

const all = synthesizeAll({ bundling: false });

describe.each(ENVIRONMENTS)('encryption, retention and removal (%s)', (name) => {
  const env = pick(all, name);
  const { deployment: d } = env;
  const { environment, names } = d;
  const region = environment.region;
  const retain = environment.removalPolicy === 'retain';
  const templates: [string, Template][] = [
    ['data', env.data],
    ['ingest', env.ingest],
    ['serving', env.serving],
    ['audit', env.audit],
    ['access', env.access],
  ];
  const keyId = { pii: logicalId(d.data, d.data.keys.pii), general: logicalId(d.data, d.data.keys.general) };
  const keyPolicy = (k: 'pii' | 'general'): Statement[] =>
    env.data.toJSON().Resources[keyId[k]].Properties.KeyPolicy.Statement;

  it.each(['pii', 'general'] as const)(
    'gives the %s key a policy that allows no kms:* and no way to stop rotation',
    (k) => {
      // Denials may be wide (the identity perimeter denies kms:* outside the account); allows may not.
      const actions = keyPolicy(k)
        .filter((s) => s.Effect === 'Allow')
        .flatMap((s) => asArray(s.Action));
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
      for (const forbidden of ['kms:DisableKeyRotation', 'kms:ReplicateKey', 'kms:UpdatePrimaryRegion']) {
        expect(actions).not.toContain(forbidden);
      }
      const admin = keyPolicy(k).find((s) => s.Sid === 'KeyAdministration');
      expect(asArray(admin?.Action ?? [])).not.toEqual(expect.arrayContaining(['kms:Decrypt']));
      expect(asArray(admin?.Action ?? []).filter((a) => /Decrypt|Encrypt|GenerateDataKey/.test(a))).toEqual(
        [],
      );
    },
  );

  it.each([
    ['pii', ['kinesis', 'dynamodb', 's3', 'backup', 'secretsmanager']],
    ['general', ['s3', 'sns']],
  ] as const)('lets the account use the %s key only through %j, from this account', (k, services) => {
    const use = keyPolicy(k).find((s) => s.Sid === 'UseThroughPlatformServices');
    expect(use?.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': services.map((s) => `${s}.${region}.amazonaws.com`),
        'kms:CallerAccount': environment.account,
      },
    });
  });

  it('lets CloudWatch Logs, alarms, EventBridge rules and exactly this trail use the general key, and no service the PII key', () => {
    const services = (k: 'pii' | 'general') =>
      keyPolicy(k).flatMap((s) =>
        asArray((s as unknown as { Principal: { Service?: string } }).Principal.Service ?? []),
      );
    expect(services('pii')).toEqual([]);
    expect([...new Set(services('general'))].sort()).toEqual(
      [
        'cloudtrail.amazonaws.com',
        'cloudwatch.amazonaws.com',
        'events.amazonaws.com',
        `logs.${region}.amazonaws.com`,
      ].sort(),
    );
    // The alarm topic's encryption, for this account's alarms and rules only.
    expect(keyPolicy('general').find((s) => s.Sid === 'AlarmsAndRulesToEncryptedTopics')?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': environment.account },
    });
    const trail = keyPolicy('general').find((s) => s.Sid === 'CloudTrailLogFiles');
    expect(trail?.Condition?.StringEquals).toEqual({
      'aws:SourceArn': [`arn:aws:cloudtrail:${region}:${environment.account}:trail/${names.trail}`],
    });
    const logs = keyPolicy('general').find((s) => s.Sid === 'CloudWatchLogsOfThisAccount');
    expect(logs?.Condition).toEqual({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${region}:${environment.account}:log-group:*`,
      },
    });
  });

  it('encrypts every log group of every stack with the general key and keeps it for the configured retention', () => {
    let count = 0;
    for (const [part, template] of templates) {
      for (const [id, group] of Object.entries(template.findResources('AWS::Logs::LogGroup'))) {
        count += 1;
        expect(JSON.stringify(group.Properties.KmsKeyId), `${part}/${id}`).toContain(keyId.general);
        expect(group.Properties.RetentionInDays, `${part}/${id}`).toBe(environment.logRetentionDays);
        expect(group.DeletionPolicy, `${part}/${id}`).toBe(retain ? 'Retain' : 'Delete');
      }
    }
    // processor, offline retention, lookup, API access, API execution, WAF, trail
    expect(count).toBe(7);
  });

  it('encrypts the alarm topic with the general key and accepts only TLS publishers', () => {
    env.data.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: names.alarmTopic,
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId.general, 'Arn'] },
    });
    env.data.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('backs the online table up daily into a vault under the PII key, kept and locked for the configured days', () => {
    env.data.hasResourceProperties('AWS::Backup::BackupVault', {
      EncryptionKeyArn: { 'Fn::GetAtt': [keyId.pii, 'Arn'] },
      LockConfiguration: { MinRetentionDays: environment.backupRetentionDays },
    });
    env.data.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [
          Match.objectLike({
            ScheduleExpression: 'cron(0 3 * * ? *)',
            Lifecycle: { DeleteAfterDays: environment.backupRetentionDays },
          }),
        ],
      },
    });
    expect(JSON.stringify(env.data.findResources('AWS::Backup::BackupPlan'))).not.toContain('CopyActions');
  });

  it('keeps point-in-time recovery on and deletion protection exactly where data is retained', () => {
    env.data.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: retain,
    });
  });

  it('versions, blocks public access to and keeps every bucket per the environment', () => {
    const buckets = Object.values(env.data.findResources('AWS::S3::Bucket'));
    expect(buckets).toHaveLength(5);
    for (const bucket of buckets) {
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.DeletionPolicy).toBe(retain ? 'Retain' : 'Delete');
    }
    for (const bucketName of [names.auditBucket]) {
      env.data.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: bucketName,
        LifecycleConfiguration: {
          Rules: [Match.objectLike({ ExpirationInDays: environment.auditRetentionDays })],
        },
      });
    }
  });

  it('lets exactly the processor role call GenerateDataKey on the PII key directly and the data steward Decrypt, in the sealing context only, and nobody the general key', () => {
    const direct = (k: 'pii' | 'general') =>
      keyPolicy(k).filter((st) => JSON.stringify(st.Condition ?? {}).includes('aws:PrincipalArn'));
    expect(direct('general')).toEqual([]);
    expect(direct('pii')).toEqual([
      {
        Sid: 'ProcessorSealsRawPayloads',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${environment.account}:root` },
        Action: 'kms:GenerateDataKey',
        Resource: '*',
        Condition: {
          ArnEquals: {
            'aws:PrincipalArn': `arn:aws:iam::${environment.account}:role/${names.processorRole}`,
          },
          StringEquals: {
            'kms:CallerAccount': environment.account,
            'kms:EncryptionContext:purpose': 'side-output-seal',
          },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['purpose'] },
        },
      },
      {
        // Redrive opens parked records' sealed payloads.
        Sid: 'StewardOpensSealedPayloads0',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${environment.account}:root` },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: {
          ArnEquals: {
            'aws:PrincipalArn': `arn:aws:iam::${environment.account}:role/${names.prefix}-data-steward`,
          },
          StringEquals: { 'kms:CallerAccount': environment.account },
          // Sealing keys, or keys sealed before the context (none); no other context key.
          StringEqualsIfExists: { 'kms:EncryptionContext:purpose': 'side-output-seal' },
          'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['purpose'] },
        },
      },
    ]);
    env.ingest.hasResourceProperties('AWS::IAM::Role', { RoleName: names.processorRole });
  });

  it('keeps the PII tokenization key in a generated secret under the PII key, per the environment', () => {
    const secrets = Object.values(env.data.findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    const [secret] = secrets;
    expect(secret?.Properties).toEqual({
      Name: names.piiTokenSecret,
      Description: expect.any(String),
      Tags: expect.any(Array),
      KmsKeyId: { 'Fn::GetAtt': [keyId.pii, 'Arn'] },
      GenerateSecretString: {
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
        RequireEachIncludedType: false,
      },
    });
    expect(secret?.DeletionPolicy).toBe(retain ? 'Retain' : 'Delete');
    expect(secret?.UpdateReplacePolicy).toBe(retain ? 'Retain' : 'Delete');
    // Letters and digits only, all base64: 64 characters decode to 48 bytes (the processor needs 32).
    expect(Buffer.from('A'.repeat(64), 'base64')).toHaveLength(48);
    expect(Object.keys(env.data.findResources('AWS::SecretsManager::RotationSchedule'))).toEqual([]);
  });

  it('denies reading the tokenization key to every principal but the processor role, by the secret resource policy', () => {
    env.data.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: { Ref: Match.anyValue() },
      BlockPublicPolicy: true,
      ResourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'OnlyTheReadersReadTheKey',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            Condition: {
              ArnNotEquals: {
                'aws:PrincipalArn': [`arn:aws:iam::${environment.account}:role/${names.processorRole}`],
              },
            },
          },
        ],
      },
    });
  });

  it('keeps or schedules deletion of the keys with the data they protect', () => {
    const keys = Object.values(env.data.findResources('AWS::KMS::Key'));
    for (const key of keys) {
      expect(key.DeletionPolicy).toBe(retain ? 'Retain' : 'Delete');
      expect(key.Properties.PendingWindowInDays).toBe(30);
    }
  });

  it.each([
    ['data-scientist', 'general'],
    ['data-scientist-pii', 'pii'],
  ] as const)('encrypts the query results of %s with the %s key, under its own prefix', (role, k) => {
    env.access.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: `${names.prefix}-${role}`,
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: {
          OutputLocation: `s3://${names.queryResultsBucket}/${names.prefix}-${role}/`,
          ExpectedBucketOwner: environment.account,
          EncryptionConfiguration: {
            EncryptionOption: 'SSE_KMS',
            KmsKey: { 'Fn::ImportValue': Match.stringLikeRegexp(keyId[k]) },
          },
        },
      }),
    });
  });
});
