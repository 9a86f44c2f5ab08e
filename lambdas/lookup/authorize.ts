/**
 * Defence in depth behind API Gateway's IAM auth: the caller's IAM role must be a declared
 * consumer role (lib/access-roles.ts, the same declarations the IAM policies come from) allowed
 * every group it asks for, and the batch route; values above its clearance are masked.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { type AccessRole, accessRoleOf, type ConsumerRole, seesInClear } from '../../lib/access-roles.js';
import type { Classification } from '../../schemas/index.js';
import { problem } from './http.js';

export type Authorization =
  | { readonly ok: true; readonly role: ConsumerRole; readonly sees: (c: Classification) => boolean }
  | { readonly ok: false; readonly problem: APIGatewayProxyResult; readonly reason: string };

const deny = (reason: string): Authorization => ({
  ok: false,
  reason,
  problem: problem(403, 'forbidden', reason),
});

export function authorize(
  rolePrefix: string,
  principalArn: string | null | undefined,
  request: { readonly groups: readonly string[]; readonly batch: boolean },
  roles?: readonly AccessRole[],
): Authorization {
  const role = principalArn ? accessRoleOf(rolePrefix, principalArn, roles) : undefined;
  if (role?.kind !== 'consumer') {
    return deny(
      `the caller (${principalArn ?? 'anonymous'}) has no feature consumer role of this deployment (${rolePrefix}-*)`,
    );
  }
  if (request.batch && !role.batch)
    return deny(`role ${role.name} may not call POST /v1/features:get (missing: batch)`);
  const missing = request.groups.filter((g) => !role.groups.includes(g));
  if (missing.length > 0)
    return deny(`role ${role.name} may not read feature group(s) ${missing.join(', ')}`);
  return { ok: true, role, sees: (c) => seesInClear(role, c) };
}
