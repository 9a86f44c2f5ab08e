import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { acknowledge, addComplianceChecks, nagPacks } from '../../lib/compliance.js';
import { ResidencyChecks } from '../../lib/residency.js';
import { ENVIRONMENTS, pick, synthesizeAll } from './platform-fixture.js';

// The synth inside synthesizeAll ran both packs and the residency check: an error-level finding
// would already have failed this file. The tests below also catch warnings and stale acknowledgements.
const all = synthesizeAll({ bundling: false });

interface Finding {
  readonly rule: string;
  readonly path: string;
  readonly severity: string;
}

/** What the AwsSolutions and NIST 800-53 rev 5 packs report, with or without acknowledgements. */
function findings(scope: IConstruct, { ignoreAcknowledgements = false } = {}): Finding[] {
  return nagPacks().flatMap((pack) => {
    if (ignoreAcknowledgements) Object.assign(pack, { isAcknowledged: () => false });
    return pack.validateScope(scope).violations.flatMap((v) =>
      v.violatingResources.map((r) => ({
        rule: v.ruleName,
        path: r.constructPath ?? '',
        severity: v.severity ?? '',
      })),
    );
  });
}

/** Every acknowledgement recorded on a construct of the tree. */
function acknowledgements(scope: IConstruct): { id: string; reason: string; path: string }[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([key, reason]) => ({
          id: key.replace(/^annotation::/i, ''),
          reason,
          path: c.node.path,
        })),
      ),
  );
}

/** The rules acknowledged anywhere (finding ids without their resource part). */
const ACKNOWLEDGED_RULES = [
  'AwsSolutions-COG4',
  'AwsSolutions-IAM4',
  'AwsSolutions-IAM5',
  'AwsSolutions-KDS3',
  'AwsSolutions-L1',
  'AwsSolutions-SMG4',
  'NIST.800.53.R5-APIGWCacheEnabledAndEncrypted',
  'NIST.800.53.R5-APIGWSSLEnabled',
  'NIST.800.53.R5-LambdaDLQ',
  'NIST.800.53.R5-LambdaInsideVPC',
  'NIST.800.53.R5-S3BucketReplicationEnabled',
  'NIST.800.53.R5-S3DefaultEncryptionKMS',
  'NIST.800.53.R5-SecretsManagerRotationEnabled',
];

describe.each(ENVIRONMENTS)('compliance checks (%s)', (name) => {
  const { deployment: d, data } = pick(all, name);
  const stacks = [d.data, d.ingest, d.serving, d.audit, d.access];

  it('leaves no unacknowledged AwsSolutions or NIST 800-53 rev 5 finding, error or warning', () => {
    expect(stacks.flatMap((s) => findings(s))).toEqual([]);
  });

  it('acknowledges only findings that occur, with their exact id, on the construct they concern', () => {
    const raw = stacks.flatMap((s) => findings(s, { ignoreAcknowledgements: true }));
    const acks = stacks.flatMap(acknowledgements);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      const concerned = raw.filter(
        (f) => f.rule === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`)),
      );
      expect(concerned, `${ack.path}: ${ack.id} acknowledges nothing`).not.toEqual([]);
    }
    // and every raw finding is covered by one of them
    for (const f of raw) {
      const covered = acks.some(
        (a) => a.id === f.rule && (f.path === a.path || f.path.startsWith(`${a.path}/`)),
      );
      expect(covered, `${f.path}: ${f.rule}`).toBe(true);
    }
  });

  it('acknowledges only the reviewed rules, and wildcard IAM findings only for resources, never actions', () => {
    const ids = stacks.flatMap(acknowledgements).map((a) => a.id);
    expect([...new Set(ids.map((id) => id.replace(/\[.*$/, '')))].sort()).toEqual(ACKNOWLEDGED_RULES);
    expect(
      ids.filter(
        (id) => id.startsWith('AwsSolutions-IAM5[') && !id.startsWith('AwsSolutions-IAM5[Resource::'),
      ),
    ).toEqual([]);
  });

  it('explains every acknowledgement in words a reviewer can check', () => {
    for (const ack of stacks.flatMap(acknowledgements)) {
      expect(ack.reason.length, `${ack.path}: ${ack.id}`).toBeGreaterThanOrEqual(60);
      expect(ack.reason).not.toMatch(/TODO|FIXME|temporar/i);
    }
  });

  it('writes the acknowledgements into the templates, for scanners that read templates', () => {
    const bucket = Object.values(data.findResources('AWS::S3::Bucket')).find((b) =>
      JSON.stringify(b.Metadata ?? {}).includes('NIST.800.53.R5-S3DefaultEncryptionKMS'),
    );
    expect(bucket?.Metadata?.cdk_nag?.rules_to_suppress).toContainEqual({
      id: 'NIST.800.53.R5-S3DefaultEncryptionKMS',
      reason: expect.stringContaining('server access logging'),
    });
  });
});

describe('compliance checks on any app', () => {
  const appWith = (build: (stack: Stack) => void) => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Checked', { env: { account: '333333333333', region: 'me-central-1' } });
    const residency = new ResidencyChecks();
    residency.declare(stack, ['me-central-1']);
    build(stack);
    addComplianceChecks(app, residency);
    return app;
  };

  it('fails the synth on an unacknowledged finding, naming the rule', () => {
    const app = appWith((stack) => new s3.Bucket(stack, 'Plain'));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it('passes the same finding once acknowledged with its exact id', () => {
    const app = appWith((stack) => {
      const bucket = new s3.Bucket(stack, 'Plain', {
        enforceSSL: true,
        versioned: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        encryption: s3.BucketEncryption.KMS_MANAGED,
      });
      for (const id of [
        'AwsSolutions-S1',
        'NIST.800.53.R5-S3BucketLoggingEnabled',
        'NIST.800.53.R5-S3BucketReplicationEnabled',
        'NIST.800.53.R5-S3DefaultEncryptionKMS',
      ]) {
        acknowledge(
          bucket,
          id,
          'A test bucket: this acknowledgement shows that an exact id silences exactly that finding.',
        );
      }
    });
    expect(() => app.synth()).not.toThrow();
    expect(findings(app)).toEqual([]);
  });
});
