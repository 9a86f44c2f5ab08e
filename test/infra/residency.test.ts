import { App, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { selectEnvironments } from '../../lib/environments.js';
import { exportNames, ResidencyChecks, residencyFindings } from '../../lib/residency.js';
import { cdkContext, ENVIRONMENTS, pick, synthesizeAll } from './platform-fixture.js';
import { asArray, identityPolicies } from './policy-statements.js';

const UAE = { account: '333333333333', region: 'me-central-1' };

/** A small app whose stacks are declared to live in me-central-1 only; returns what synth throws. */
function synthError(build: (app: App, residency: ResidencyChecks) => void): string {
  const app = new App({ builtinCloudFormationValidation: false });
  const residency = new ResidencyChecks();
  build(app, residency);
  Validations.of(app).addPlugins(residency);
  try {
    app.synth();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

const uaeStack = (app: App, residency: ResidencyChecks, id = 'Uae', env = UAE) => {
  const stack = new Stack(app, id, { env });
  residency.declare(stack, ['me-central-1']);
  return stack;
};

describe('residency of the real app', () => {
  const all = synthesizeAll({ bundling: false });

  it.each(ENVIRONMENTS)('deploys every %s stack to its region and mentions no other region', (name) => {
    const { deployment: d, ...templates } = pick(all, name);
    for (const stack of [d.data, d.ingest, d.serving, d.audit, d.access]) {
      expect(d.environment.allowedRegions).toContain(stack.region);
    }
    const json = Object.values(templates).map((t) => t.toJSON());
    const appExports = exportNames(json);
    for (const template of json) {
      expect(residencyFindings(template, d.environment.allowedRegions, appExports)).toEqual([]);
    }
  });

  it.each(ENVIRONMENTS)(
    'puts aws:RequestedRegion in the allowed regions on every statement of every %s role',
    (name) => {
      const { deployment: d, ...templates } = pick(all, name);
      let statements = 0;
      for (const template of Object.values(templates)) {
        for (const policy of identityPolicies(template)) {
          for (const statement of policy.statements) {
            statements += 1;
            expect(
              statement.Condition?.StringEquals?.['aws:RequestedRegion'],
              JSON.stringify(statement),
            ).toEqual(d.environment.allowedRegions);
          }
        }
      }
      expect(statements).toBeGreaterThan(40);
    },
  );
});

describe('residency configuration', () => {
  it('refuses a production environment allowed outside me-central-1, naming the field', () => {
    const context = cdkContext();
    context.environments.prod = {
      ...context.environments.prod,
      allowedRegions: ['me-central-1', 'eu-central-1'],
    };
    expect(() => selectEnvironments(context)).toThrow(
      /environments\.prod\.allowedRegions: eu-central-1 outside the required residency of prod \(me-central-1\)/,
    );
  });

  it('refuses a production environment moved to another region altogether', () => {
    const context = cdkContext();
    context.environments.prod = {
      ...context.environments.prod,
      region: 'eu-west-1',
      allowedRegions: ['eu-west-1'],
    };
    expect(() => selectEnvironments(context)).toThrow(
      /environments\.prod\.allowedRegions: eu-west-1 outside/,
    );
  });

  it('accepts a second region where the environment declares it (dev)', () => {
    const [dev] = selectEnvironments({ ...cdkContext(), env: 'dev' });
    expect(dev?.allowedRegions).toEqual(['me-central-1', 'eu-central-1']);
  });
});

/** A bucket replicating to `destination` (`Replica` is a resource of the template). */
const replicatedTo = (
  destination: unknown,
  extra: Record<string, { Type: string; Properties?: unknown }> = {},
  appExports?: ReadonlySet<string>,
) =>
  residencyFindings(
    {
      Resources: {
        Bucket: {
          Type: 'AWS::S3::Bucket',
          Properties: {
            ReplicationConfiguration: {
              Role: 'arn:aws:iam::333333333333:role/replication',
              Rules: [{ Status: 'Enabled', Destination: { Bucket: destination } }],
            },
          },
        },
        Replica: { Type: 'AWS::S3::Bucket' },
        ...extra,
      },
    },
    ['me-central-1'],
    appExports,
  ).map((f) => f.rule);

describe('residency check on synth', () => {
  it('passes resources that stay in the allowed region', () => {
    const message = synthError((app, residency) => {
      const stack = uaeStack(app, residency);
      new dynamodb.TableV2(stack, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      });
      new s3.Bucket(stack, 'Bucket', { encryptionKey: new kms.Key(stack, 'Key') });
    });
    expect(message).toBe('');
  });

  it('fails on a table replica in another region, naming the table and the region', () => {
    const message = synthError((app, residency) => {
      const stack = uaeStack(app, residency);
      new dynamodb.TableV2(stack, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        replicas: [{ region: 'eu-west-1' }],
      });
    });
    expect(message).toMatch(/Residency-RegionOutsideAllowed/);
    expect(message).toMatch(/Uae\/Table\/Resource: Properties\.Replicas\.\d+\.Region references eu-west-1/);
  });

  it('fails on a stack deployed outside its allowed regions, naming the stack', () => {
    const message = synthError((app, residency) => {
      uaeStack(app, residency, 'Frankfurt', { account: UAE.account, region: 'eu-central-1' });
    });
    expect(message).toMatch(/Residency-StackRegion/);
    expect(message).toMatch(
      /Frankfurt: deploys to eu-central-1, outside the allowed regions \(me-central-1\)/,
    );
  });

  it('fails on a key from another region, naming the bucket that uses it', () => {
    const message = synthError((app, residency) => {
      const stack = uaeStack(app, residency);
      const foreign = kms.Key.fromKeyArn(
        stack,
        'Foreign',
        'arn:aws:kms:us-east-1:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      );
      new s3.Bucket(stack, 'Bucket', { encryptionKey: foreign });
    });
    expect(message).toMatch(/Uae\/Bucket\/Resource: Properties\.BucketEncryption.* references us-east-1/);
  });

  it('fails on a replication destination whose region it cannot verify', () => {
    const message = synthError((app, residency) => {
      const stack = uaeStack(app, residency);
      new s3.CfnBucket(stack, 'Source', {
        versioningConfiguration: { status: 'Enabled' },
        replicationConfiguration: {
          role: 'arn:aws:iam::333333333333:role/replication',
          rules: [{ status: 'Enabled', destination: { bucket: 'arn:aws:s3:::somewhere-else' } }],
        },
      });
    });
    expect(message).toMatch(/Residency-UnverifiableDestination/);
    expect(message).toMatch(/Uae\/Source: .*Destination\.Bucket sends data to "arn:aws:s3:::somewhere-else"/);
  });

  it('fails on a cross-region reference between stacks, naming the stack outside', () => {
    const message = synthError((app, residency) => {
      const abroad = new Stack(app, 'Abroad', {
        env: { ...UAE, region: 'eu-west-1' },
        crossRegionReferences: true,
      });
      residency.declare(abroad, ['me-central-1']);
      const key = new kms.Key(abroad, 'Key');
      const home = new Stack(app, 'Home', { env: UAE, crossRegionReferences: true });
      residency.declare(home, ['me-central-1']);
      new s3.Bucket(home, 'Bucket', { encryptionKey: key });
    });
    expect(message).toMatch(/Abroad: deploys to eu-west-1/);
    expect(message).toMatch(/Abroad\/Custom::CrossRegionExportWriter.*references eu-west-1/);
  });

  it('cannot be acknowledged away like a nag finding', () => {
    const message = synthError((app, residency) => {
      const stack = uaeStack(app, residency, 'Frankfurt', { account: UAE.account, region: 'eu-central-1' });
      Validations.of(stack).acknowledge({
        id: 'Residency::Residency-StackRegion',
        reason: 'we would like to',
      });
    });
    expect(message).toMatch(/Frankfurt: deploys to eu-central-1/);
  });

  it('fails on a stack nobody declared allowed regions for', () => {
    const message = synthError((app) => {
      new Stack(app, 'Undeclared', { env: UAE });
    });
    expect(message).toMatch(/Residency-Undeclared/);
  });

  it('refuses to declare a stack with no allowed region', () => {
    const residency = new ResidencyChecks();
    const stack = new Stack(new App(), 'S', { env: UAE });
    expect(() => residency.declare(stack, [])).toThrow('S: allowedRegions must not be empty');
  });

  it('checks only what templates say: values are flattened across intrinsic functions', () => {
    const findings = residencyFindings(
      {
        Resources: {
          Fn: {
            Type: 'AWS::Lambda::EventInvokeConfig',
            Properties: {
              DestinationConfig: {
                OnFailure: { Destination: { 'Fn::Join': ['', ['arn:aws:sqs:', 'ap-south-1', ':1:q']] } },
              },
            },
          },
        },
      },
      ['me-central-1'],
    );
    expect(findings.map((f) => [f.rule, f.location])).toEqual([
      ['Residency-RegionOutsideAllowed', 'Properties.DestinationConfig.OnFailure.Destination'],
    ]);
    expect(asArray(findings).length).toBe(1);
  });

  it('does not vouch for a destination read from a parameter (an SSM value could name any place)', () => {
    // cdk: ssm.StringParameter.valueForStringParameter(stack, '/replica/bucket-arn')
    expect(replicatedTo({ Ref: 'SsmParameterValuereplicabucketarnParameter' })).toEqual([
      'Residency-UnverifiableDestination',
    ]);
    expect(replicatedTo({ 'Fn::GetAtt': ['Replica', 'Arn'] })).toEqual([]);
    expect(replicatedTo({ 'Fn::ImportValue': 'fp-prod-data:ReplicaArn' })).toEqual([]);
  });

  it('flags a global service, whatever its properties name (CloudFront in front of the offline bucket)', () => {
    const findings = residencyFindings(
      {
        Resources: {
          Cdn: {
            Type: 'AWS::CloudFront::Distribution',
            Properties: {
              DistributionConfig: {
                Enabled: true,
                Origins: [
                  {
                    Id: 'o',
                    DomainName: { 'Fn::GetAtt': ['OfflineBucket', 'RegionalDomainName'] },
                    S3OriginConfig: {},
                  },
                ],
              },
            },
          },
        },
      },
      ['me-central-1'],
    );
    expect(findings.map((f) => [f.rule, f.logicalId])).toEqual([['Residency-GlobalService', 'Cdn']]);
  });
});

describe('residency check: what vouches for a destination', () => {
  it('does not vouch for a value a custom resource read (AwsCustomResource ssm:GetParameter)', () => {
    // cdk: new AwsCustomResource(..., { onUpdate: { service: 'SSM', action: 'getParameter', ... } })
    //      .getResponseField('Parameter.Value'): the same SSM value the commit refuses as a Ref.
    const lookup = {
      ReplicaArnLookup: {
        Type: 'Custom::AWS',
        Properties: {
          ServiceToken: { 'Fn::GetAtt': ['AWS679f53fac002430cb0da5b7982bd22872D164C4C', 'Arn'] },
          Create: '{"service":"SSM","action":"getParameter","parameters":{"Name":"/replica/bucket-arn"}}',
        },
      },
    };
    expect(replicatedTo({ 'Fn::GetAtt': ['ReplicaArnLookup', 'Parameter.Value'] }, lookup)).toEqual([
      'Residency-UnverifiableDestination',
    ]);
  });

  it('does not let one resource reference vouch for a parameter beside it (Fn::If)', () => {
    expect(
      replicatedTo({
        'Fn::If': ['UseDr', { Ref: 'DrBucketArnParameter' }, { 'Fn::GetAtt': ['Replica', 'Arn'] }],
      }),
    ).toEqual(['Residency-UnverifiableDestination']);
  });

  it('does not take a parameter named like an Object.prototype member for a resource', () => {
    expect(replicatedTo({ Ref: 'constructor' })).toEqual(['Residency-UnverifiableDestination']);
  });

  it('vouches for an import only if a stack of the app exports it', () => {
    const imported = { 'Fn::ImportValue': 'other-stack:BucketArn' };
    expect(replicatedTo(imported, {}, new Set(['other-stack:BucketArn']))).toEqual([]);
    expect(replicatedTo(imported, {}, new Set(['fp-prod-data:SideOutputBucketArn']))).toEqual([
      'Residency-UnverifiableDestination',
    ]);
  });
  it('does not let a resource reference in one Fn::If branch vouch for a literal bucket in the other', () => {
    // Same shape as the parameter case of 08a7d5c, with a literal instead of a Ref: the literal
    // names no region and no resource, yet the GetAtt beside it is taken to vouch for the value.
    expect(
      replicatedTo({
        'Fn::If': ['UseDr', 'arn:aws:s3:::bucket-in-another-country', { 'Fn::GetAtt': ['Replica', 'Arn'] }],
      }),
    ).toEqual(['Residency-UnverifiableDestination']);
  });

  it('does not vouch for an import whose name is computed (not an export of the app)', () => {
    // <Import:<GetAtt:Replica,Arn>-x>: the reference regex skips the outer Import (it holds '<')
    // and finds only the inner GetAtt, which vouches.
    expect(
      replicatedTo({
        'Fn::ImportValue': { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Replica', 'Arn'] }, '-elsewhere']] },
      }),
    ).toEqual(['Residency-UnverifiableDestination']);
  });
});
