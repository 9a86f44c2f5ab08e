/**
 * A small IAM evaluator over synthesized templates, for the RBAC matrix: resolves intrinsics
 * across the stacks of one environment (references become `<stack/logicalId[.attr]>`, imports
 * follow their exports), then decides a request as IAM does for identity policies (explicit deny
 * wins, otherwise any matching allow) and, for KMS, also requires the key policy to allow the
 * account. Conditions are evaluated against the request context; an absent key fails the condition.
 */
import { asArray } from './policy-statements.js';

type Json = Record<string, unknown>;
export type TemplateJson = { Resources?: Record<string, Json>; Outputs?: Record<string, Json> };

export interface RequestContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/**
 * A request: an action on a resource, with condition keys (`aws:RequestedRegion`, `kms:ViaService`...);
 * a multivalued key (`kms:EncryptionContextKeys`) as an array.
 */
export interface Request {
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, string | readonly string[]>>;
}

interface ResolvedStatement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: string[];
  /** NotAction: every action but these. */
  readonly notActions?: string[];
  readonly resources: string[];
  /** NotResource: every resource but these. */
  readonly notResources?: string[];
  readonly principals: string[];
  readonly conditions: Record<string, Record<string, string[]>>;
}

export class Resolver {
  private readonly exports = new Map<string, { stack: string; value: unknown }>();

  constructor(
    private readonly templates: Readonly<Record<string, TemplateJson>>,
    private readonly env: RequestContext,
  ) {
    for (const [stack, template] of Object.entries(templates)) {
      for (const output of Object.values(template.Outputs ?? {})) {
        const name = (output.Export as Json | undefined)?.Name;
        if (typeof name === 'string') this.exports.set(name, { stack, value: output.Value });
      }
    }
  }

  /** A value of `stack`'s template as a string (or list, for Fn::Split). */
  resolve(stack: string, value: unknown): string | string[] {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      return String(value);
    if (Array.isArray(value)) return value.map((v) => this.resolveString(stack, v));
    const [fn, arg] = Object.entries(value as Json)[0] ?? [];
    const pseudo: Record<string, string> = {
      'AWS::Partition': this.env.partition,
      'AWS::Region': this.env.region,
      'AWS::AccountId': this.env.account,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    switch (fn) {
      case 'Ref':
        return pseudo[arg as string] ?? `<${stack}/${arg}>`;
      case 'Fn::GetAtt':
        return `<${stack}/${(arg as string[]).join('.')}>`;
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map((p) => this.resolveString(stack, p)).join(separator);
      }
      case 'Fn::ImportValue': {
        const exported = this.exports.get(this.resolveString(stack, arg));
        if (!exported) throw new Error(`${stack}: no export named ${JSON.stringify(arg)}`);
        return this.resolve(exported.stack, exported.value);
      }
      case 'Fn::Sub':
        return (arg as string).replaceAll(
          /\$\{([^}]+)\}/g,
          (_, name: string) => pseudo[name] ?? `<${stack}/${name}>`,
        );
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return this.resolveString(stack, source).split(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number, unknown];
        const items = this.resolve(stack, list);
        return asArray(items)[Number(index)] ?? '';
      }
      default:
        throw new Error(`${stack}: cannot resolve ${JSON.stringify(value)}`);
    }
  }

  resolveString(stack: string, value: unknown): string {
    const resolved = this.resolve(stack, value);
    if (Array.isArray(resolved)) throw new Error(`${stack}: expected a string, got a list`);
    return resolved;
  }

  /** The statements of a policy document, resolved. */
  statements(stack: string, document: Json): ResolvedStatement[] {
    return asArray(document.Statement as Json[]).map((s) => {
      const principal = s.Principal as Json | string | undefined;
      const principals =
        principal === undefined
          ? []
          : typeof principal === 'string'
            ? [principal]
            : Object.values(principal).flatMap((p) => asArray(p).map((v) => this.resolveString(stack, v)));
      const conditions: Record<string, Record<string, string[]>> = {};
      for (const [operator, entries] of Object.entries((s.Condition as Json | undefined) ?? {})) {
        conditions[operator] = Object.fromEntries(
          Object.entries(entries as Json).map(([k, v]) => [
            k,
            asArray(v).map((x) => this.resolveString(stack, x)),
          ]),
        );
      }
      return {
        effect: s.Effect as 'Allow' | 'Deny',
        actions: asArray((s.Action ?? []) as string | string[]),
        ...(s.NotAction ? { notActions: asArray(s.NotAction as string | string[]) } : {}),
        resources: asArray(s.Resource ?? []).flatMap((r) => asArray(this.resolve(stack, r))),
        ...(s.NotResource
          ? { notResources: asArray(s.NotResource).flatMap((r) => asArray(this.resolve(stack, r))) }
          : {}),
        principals,
        conditions,
      };
    });
  }

  /** The identity statements of the customer-managed and inline policies attached to a role. */
  roleStatements(stack: string, roleLogicalId: string): ResolvedStatement[] {
    const resources = this.templates[stack]?.Resources ?? {};
    return Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::ManagedPolicy' || r.Type === 'AWS::IAM::Policy')
      .filter((r) => JSON.stringify((r.Properties as Json).Roles).includes(`"${roleLogicalId}"`))
      .flatMap((r) => this.statements(stack, (r.Properties as Json).PolicyDocument as Json));
  }
}

const glob = (pattern: string, flags = '') =>
  new RegExp(
    `^${pattern
      .replaceAll(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    flags,
  );

function conditionsHold(conditions: ResolvedStatement['conditions'], context: Request['context']): boolean {
  return Object.entries(conditions).every(([operator, entries]) =>
    Object.entries(entries).every(([key, values]) => {
      const actual = context[key];
      if (operator === 'Null') return values.includes(actual === undefined ? 'true' : 'false');
      // Every value of the key is one of the values; true without any value (as IAM has it).
      if (operator === 'ForAllValues:StringEquals')
        return (typeof actual === 'string' ? [actual] : (actual ?? [])).every((v) => values.includes(v));
      // A key the request lacks: no match, so a negated operator holds (as IAM has it), and so does
      // any operator `IfExists`.
      if (actual === undefined)
        return operator.endsWith('IfExists') || /^((String|Arn|Numeric|Date)Not|NotIpAddress)/.test(operator);
      if (typeof actual !== 'string')
        throw new Error(`${operator} on the multivalued ${key} is not modelled`);
      switch (operator.replace(/IfExists$/, '')) {
        case 'StringEquals':
        case 'ArnEquals':
        case 'Bool':
          return values.includes(actual);
        case 'StringLike':
        case 'ArnLike':
          return values.some((v) => glob(v).test(actual));
        case 'StringNotEquals':
          return !values.includes(actual);
        case 'StringNotLike':
        case 'ArnNotLike':
          return !values.some((v) => glob(v).test(actual));
        default:
          throw new Error(`condition operator ${operator} is not modelled`);
      }
    }),
  );
}

const matches = (s: ResolvedStatement, request: Request) =>
  (s.notActions
    ? !s.notActions.some((a) => glob(a, 'i').test(request.action))
    : s.actions.some((a) => glob(a, 'i').test(request.action))) &&
  (s.notResources
    ? !s.notResources.some((r) => glob(r).test(request.resource))
    : s.resources.some((r) => glob(r).test(request.resource))) &&
  conditionsHold(s.conditions, request.context);

/** What every request of an IAM principal of `account` carries (the identity perimeter's keys). */
export const principalOf = (account: string) => ({
  'aws:PrincipalAccount': account,
  'aws:PrincipalIsAWSService': 'false',
});

/** Identity-policy decision: an explicit deny wins, otherwise any matching allow. */
export function allows(statements: readonly ResolvedStatement[], request: Request): boolean {
  if (statements.some((s) => s.effect === 'Deny' && matches(s, request))) return false;
  return statements.some((s) => s.effect === 'Allow' && matches(s, request));
}

/** Whether a key policy lets the account's IAM principals make this request (delegation to IAM). */
export function keyPolicyAllowsAccount(
  keyPolicy: readonly ResolvedStatement[],
  request: Request,
  account: RequestContext,
): boolean {
  const root = `arn:${account.partition}:iam::${account.account}:root`;
  const forAccount = keyPolicy
    .filter((s) => s.principals.includes(root) || s.principals.includes('*'))
    .map((s) => ({ ...s, resources: ['*'] }));
  return allows(forAccount, {
    ...request,
    context: { ...request.context, 'kms:CallerAccount': account.account },
  });
}
