/**
 * Physical names of one deployed environment: the data resources of lib/platform-spec.ts plus
 * what exists only in AWS (audit trail, query results, alarms). Literal names keep ARNs literal,
 * so policies, the trail's selectors and nag acknowledgements do not depend on generated ids.
 */
import type { Environment } from './environments.js';
import { type ResourceNames, resourceNames } from './platform-spec.js';

export interface DeploymentNames extends ResourceNames {
  /** Stack and resource name prefix, e.g. `fp-prod`. */
  readonly prefix: string;
  /** CloudTrail log files (SSE-KMS, log file validation). */
  readonly auditBucket: string;
  /** Athena query results, one prefix per workgroup. */
  readonly queryResultsBucket: string;
  /** The trail recording management and data events. */
  readonly trail: string;
  /** SNS topic every alarm notifies. */
  readonly alarmTopic: string;
  /** Glue database of the offline store. */
  readonly glueDatabase: string;
  /** Named export of the lookup API's id (the access stack scopes execute-api by it). */
  readonly lookupApiIdExport: string;
  /**
   * Execution role of the processor. Named, so the PII key's policy (data stack) can name it in
   * `aws:PrincipalArn` before the role (ingest stack) exists, without a cross-stack cycle.
   */
  readonly processorRole: string;
  /** Secrets Manager secret holding the PII tokenization (HMAC) key. */
  readonly piiTokenSecret: string;
}

export function deploymentNames(environment: Environment): DeploymentNames {
  const prefix = `fp-${environment.name}`;
  const suffix = `-${environment.account}-${environment.region}`;
  return {
    ...resourceNames(prefix, suffix.slice(1)),
    prefix,
    auditBucket: `${prefix}-audit${suffix}`,
    queryResultsBucket: `${prefix}-query-results${suffix}`,
    trail: `${prefix}-audit`,
    alarmTopic: `${prefix}-alarms`,
    glueDatabase: prefix.replaceAll('-', '_'),
    lookupApiIdExport: `${prefix}-lookup-api-id`,
    processorRole: `${prefix}-processor-execution`,
    piiTokenSecret: `${prefix}/pii-token-key`,
  };
}

/** Athena workgroup of a data scientist role. */
export const workgroupName = (prefix: string, roleName: string): string => `${prefix}-${roleName}`;
