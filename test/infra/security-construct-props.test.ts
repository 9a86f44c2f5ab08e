import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { acknowledge } from '../../lib/compliance.js';
import { ApiFirewall } from '../../lib/constructs/api-firewall.js';
import { AuditTrail } from '../../lib/constructs/audit-trail.js';
import { DataKeys } from '../../lib/constructs/data-keys.js';
import { PlatformRole } from '../../lib/constructs/platform-role.js';
import { TableBackup } from '../../lib/constructs/table-backup.js';
import { TokenizationKeySecret } from '../../lib/constructs/tokenization-key-secret.js';
import type { Permission } from '../../lib/permissions.js';

const newStack = () =>
  new Stack(new App({ builtinCloudFormationValidation: false }), 'Test', {
    env: { account: '111111111111', region: 'me-central-1' },
  });
const read: Permission = { sid: 'Read', actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/k'] };
const role = (stack: Stack, permissions: Permission[], allowedRegions = ['me-central-1']) =>
  new PlatformRole(stack, 'R', {
    description: 'r',
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    permissions,
    allowedRegions,
  });

describe('PlatformRole', () => {
  it.each<[string, Permission[], string[], string]>([
    [
      'a wildcard action',
      [{ ...read, actions: ['s3:Get*'] }],
      ['me-central-1'],
      'Test/R: permission Read: action "s3:Get*" is not one exact action',
    ],
    [
      'a bare wildcard action',
      [{ ...read, actions: ['*'] }],
      ['me-central-1'],
      'action "*" is not one exact action',
    ],
    [
      'a wildcard resource without a reason',
      [{ ...read, resources: ['arn:aws:s3:::b/*'] }],
      ['me-central-1'],
      'permission Read: a resource has a wildcard; say why in wildcardReason',
    ],
    ['a repeated sid', [read, read], ['me-central-1'], 'permission Read: sid must be unique PascalCase'],
    ['no permission', [], ['me-central-1'], 'Test/R: a role needs at least one permission'],
    ['no allowed region', [read], [], 'Test/R: allowedRegions must not be empty'],
  ])('refuses %s', (_, permissions, regions, message) => {
    expect(() => role(newStack(), permissions, regions)).toThrow(message);
  });

  it('puts the region and the via-service conditions on every statement, in one managed policy', () => {
    const stack = newStack();
    role(stack, [
      read,
      {
        sid: 'Decrypt',
        actions: ['kms:Decrypt'],
        resources: ['arn:aws:kms:me-central-1:1:key/k'],
        via: ['s3'],
      },
    ]);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Sid: 'Read',
            Condition: { StringEquals: { 'aws:RequestedRegion': ['me-central-1'] } },
          }),
          Match.objectLike({
            Sid: 'Decrypt',
            Condition: {
              StringEquals: {
                'aws:RequestedRegion': ['me-central-1'],
                'kms:ViaService': ['s3.me-central-1.amazonaws.com'],
              },
            },
          }),
        ],
      },
    });
  });

  it('drops statements other constructs try to grant through the sealed role', () => {
    const stack = newStack();
    const r = role(stack, [read]);
    new dynamodb.Table(stack, 'T', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    }).grantReadWriteData(r.sealed);
    expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toContain('dynamodb:PutItem');
  });
});

describe('DataKeys', () => {
  it('refuses a key no service may use', () => {
    expect(
      () => new DataKeys(newStack(), 'K', { aliasPrefix: 'fp-x', viaServices: { pii: [], general: ['s3'] } }),
    ).toThrow('Test/K: viaServices.pii must name at least one service');
  });

  it.each([['kms:Encrypt'], ['kms:ReEncryptFrom'], ['kms:ScheduleKeyDeletion']])(
    'refuses direct use allowing %s: data keys only',
    (action) => {
      const use = {
        sid: 'X',
        keyClass: 'pii' as const,
        principalArn: 'arn:aws:iam::333333333333:role/x',
        actions: ['kms:Decrypt', action],
        encryptionContext: { purpose: 'x' },
      };
      expect(() => new DataKeys(newStack(), 'K', { aliasPrefix: 'fp-x', directUse: [use] })).toThrow(
        `Test/K: directUse X may allow only kms:GenerateDataKey, kms:Decrypt (not ${action})`,
      );
    },
  );

  it('refuses direct use for no purpose (no encryption context)', () => {
    const use = {
      sid: 'X',
      keyClass: 'pii' as const,
      principalArn: 'arn:aws:iam::333333333333:role/x',
      actions: ['kms:Decrypt'],
      encryptionContext: {},
    };
    expect(() => new DataKeys(newStack(), 'K', { aliasPrefix: 'fp-x', directUse: [use] })).toThrow(
      'Test/K: directUse X must name an encryption context (what the use is for)',
    );
  });
});

describe('TokenizationKeySecret', () => {
  it('refuses a value shorter than base64 of 32 bytes', () => {
    const stack = newStack();
    const encryptionKey = new kms.Key(stack, 'Key');
    const readerRoleArns = ['arn:aws:iam::111111111111:role/p'];
    expect(
      () =>
        new TokenizationKeySecret(stack, 'S', { secretName: 's', encryptionKey, length: 43, readerRoleArns }),
    ).toThrow('Test/S: length (43) must be an integer 44-4096 (base64 of >= 32 bytes)');
  });

  it('refuses a key nobody may read', () => {
    const stack = newStack();
    const encryptionKey = new kms.Key(stack, 'Key');
    expect(
      () => new TokenizationKeySecret(stack, 'S', { secretName: 's', encryptionKey, readerRoleArns: [] }),
    ).toThrow('Test/S: readerRoleArns must name at least one role');
  });
});

describe('ApiFirewall', () => {
  it.each([5, 3_000_000_000])('refuses a rate limit of %d, outside what WAF accepts', (limit) => {
    const stack = newStack();
    const api = new apigw.RestApi(stack, 'Api');
    api.root.addMethod('GET');
    expect(
      () =>
        new ApiFirewall(stack, 'W', {
          name: 'w',
          stage: api.deploymentStage,
          requestsPerIpPerFiveMinutes: limit,
        }),
    ).toThrow(`Test/W: requestsPerIpPerFiveMinutes (${limit}) must be between 10 and 2000000000`);
  });
});

describe('TableBackup', () => {
  const parts = () => {
    const stack = newStack();
    return {
      stack,
      table: new dynamodb.Table(stack, 'T', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      }),
      encryptionKey: new kms.Key(stack, 'K'),
    };
  };

  it('refuses a retention shorter than a day', () => {
    const { stack, ...props } = parts();
    expect(() => new TableBackup(stack, 'B', { ...props, retention: Duration.hours(12) })).toThrow(
      'Test/B: retention must be at least one day',
    );
  });

  it('refuses an hour that is not one', () => {
    const { stack, ...props } = parts();
    expect(
      () => new TableBackup(stack, 'B', { ...props, retention: Duration.days(7), dailyAtHourUtc: 24 }),
    ).toThrow('Test/B: dailyAtHourUtc (24) must be an hour 0-23');
  });
});

describe('AuditTrail', () => {
  it('refuses a trail with no data events to record', () => {
    const stack = newStack();
    expect(
      () =>
        new AuditTrail(stack, 'A', {
          trailName: 't',
          bucketName: 'b',
          encryptionKey: new kms.Key(stack, 'K'),
          dataEventBuckets: [],
          dataEventTables: [],
          allowedRegions: ['me-central-1'],
        }),
    ).toThrow('Test/A: an audit trail needs data event buckets or tables');
  });
});

describe('acknowledge', () => {
  it('refuses an id that is not a cdk-nag finding id', () => {
    expect(() => acknowledge(newStack(), 'IAM5', 'x'.repeat(80))).toThrow(
      'Test: "IAM5" is not a cdk-nag finding id',
    );
  });

  it('refuses a reason too short to convince a reviewer', () => {
    expect(() => acknowledge(newStack(), 'AwsSolutions-S1', 'not needed')).toThrow(
      'Test: the reason for AwsSolutions-S1 must explain why it is acceptable',
    );
  });
});
