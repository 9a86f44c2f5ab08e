/**
 * Data residency, checked on the synthesized templates of every stack (a CDK validation plugin, so
 * `cdk synth` fails with a report naming the resource): the stack's region, every region any
 * property mentions (replicas, ARNs, endpoints, cross-region exports) and every destination that
 * does not name an allowed region or a resource of the app.
 */
import { readFileSync } from 'node:fs';
import {
  CfnResource,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  type PolicyViolation,
  Stack,
} from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** An AWS region code anywhere in a string (commercial, GovCloud, ISO, China). */
const REGION =
  /\b(?:af|ap|ca|cn|eu|il|me|mx|sa|us)(?:-gov|-iso[a-z]?)?-(?:central|north|south|east|west|northeast|northwest|southeast|southwest)-\d{1,2}\b/g;
/** Property paths that send data somewhere (replication, on-failure, log delivery, ...). */
const DESTINATION = /destination/i;

type Template = {
  Resources?: Record<string, { Type: string; Properties?: unknown }>;
  Outputs?: Record<string, { Export?: { Name?: unknown } }>;
};
type Finding = { rule: string; logicalId?: string; location: string; message: string };

/** An intrinsic function (`Ref`, `Fn::*`) as one string; references become `<...>`. */
function flatten(node: unknown): string {
  if (typeof node === 'string') return node;
  if (node === null || typeof node !== 'object') return String(node);
  if (Array.isArray(node)) return node.map(flatten).join(',');
  const [key, value] = Object.entries(node)[0] ?? [];
  if (key === 'Fn::Join' && Array.isArray(value)) return (value[1] as unknown[]).map(flatten).join(value[0]);
  if (key === 'Ref') return `<Ref:${flatten(value)}>`;
  if (key === 'Fn::GetAtt') return `<GetAtt:${flatten(value)}>`;
  if (key === 'Fn::ImportValue') return `<Import:${flatten(value)}>`;
  return `<${key}:${flatten(value)}>`;
}

/**
 * Resource types that serve or copy data from outside any one region (edge caches, global
 * endpoints): none may be part of a resident deployment, whatever their properties name.
 */
const GLOBAL_SERVICES = new Set([
  'AWS::CloudFront::Distribution',
  'AWS::CloudFront::StreamingDistribution',
  'AWS::GlobalAccelerator::Accelerator',
  'AWS::S3::MultiRegionAccessPoint',
]);

const isIntrinsic = (node: object) => {
  const keys = Object.keys(node);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0]?.startsWith('Fn::') ?? false));
};

/** Resources whose attributes are values from outside the app (custom resources, SSM parameters). */
const OPAQUE = /^(Custom::|AWS::CloudFormation::CustomResource$|AWS::SSM::Parameter$)/;

/**
 * Every region a template's resources mention, and destinations no region or reference vouches for.
 * `appExports`: the export names of the app's stacks (an import of anything else is not vouched
 * for); undefined trusts every import.
 */
export function residencyFindings(
  template: Template,
  allowedRegions: readonly string[],
  appExports?: ReadonlySet<string>,
): Finding[] {
  const findings: Finding[] = [];
  const allowed = allowedRegions.join(', ');
  const resources = template.Resources ?? {};
  const isAppResource = (id: unknown) => {
    const resource = typeof id === 'string' && Object.hasOwn(resources, id) ? resources[id] : undefined;
    return resource !== undefined && !OPAQUE.test(resource.Type);
  };
  /** Whether a value (literal or intrinsic) is vouched for in every way it can resolve. */
  const vouches = (node: unknown): boolean => {
    if (typeof node === 'string') {
      const regions = node.match(REGION) ?? [];
      return regions.length > 0 && regions.every((r) => allowedRegions.includes(r));
    }
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return false;
    const [key, value] = Object.entries(node)[0] ?? [];
    switch (key) {
      case 'Ref':
        return isAppResource(value);
      case 'Fn::GetAtt':
        return isAppResource(
          Array.isArray(value) ? value[0] : typeof value === 'string' ? value.split('.')[0] : undefined,
        );
      case 'Fn::ImportValue':
        return typeof value === 'string' && (appExports === undefined || appExports.has(value));
      case 'Fn::If':
        return Array.isArray(value) && vouches(value[1]) && vouches(value[2]);
      case 'Fn::Join': {
        const parts = Array.isArray(value) && Array.isArray(value[1]) ? (value[1] as unknown[]) : undefined;
        if (!parts) return false;
        // The partition, region and account of the stack itself neither vouch nor disqualify.
        const pseudo = (p: unknown) =>
          p !== null &&
          typeof p === 'object' &&
          typeof (p as { Ref?: unknown }).Ref === 'string' &&
          (p as { Ref: string }).Ref.startsWith('AWS::');
        const intrinsics = parts.filter((p) => p !== null && typeof p === 'object' && !pseudo(p));
        return parts.some(vouches) && intrinsics.every(vouches);
      }
      default:
        return false;
    }
  };
  const visit = (logicalId: string, node: unknown, path: string) => {
    if (node !== null && typeof node === 'object' && !isIntrinsic(node)) {
      for (const [key, child] of Object.entries(node)) visit(logicalId, child, path ? `${path}.${key}` : key);
      return;
    }
    if (node === null || node === undefined) return;
    const text = flatten(node);
    const regions = text.match(REGION) ?? [];
    for (const region of new Set(regions)) {
      if (!allowedRegions.includes(region)) {
        findings.push({
          rule: 'Residency-RegionOutsideAllowed',
          logicalId,
          location: path,
          message: `${path} references ${region}, outside the allowed regions (${allowed})`,
        });
      }
    }
    // A destination must be vouched for in every way it can resolve (each Fn::If branch): by a
    // resource of the app (of this template, or an export of a stack of the app), which its stack's
    // region vouches for, or by naming an allowed region. Not by a parameter, nor by what a custom
    // resource or an SSM parameter returns: those values come from outside and could name any place.
    const location = typeof node === 'string' || typeof node === 'object';
    // (One naming a region outside the allowed ones is reported as that, above.)
    const outside = regions.some((r) => !allowedRegions.includes(r));
    if (location && DESTINATION.test(path) && !outside && !vouches(node)) {
      findings.push({
        rule: 'Residency-UnverifiableDestination',
        logicalId,
        location: path,
        message: `${path} sends data to "${text}", which names no region and no resource of this app`,
      });
    }
  };
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (GLOBAL_SERVICES.has(resource.Type)) {
      findings.push({
        rule: 'Residency-GlobalService',
        logicalId,
        location: 'Type',
        message: `${resource.Type} serves or copies data outside the region, whatever the allowed regions (${allowed})`,
      });
    }
    visit(logicalId, resource.Properties, 'Properties');
  }
  return findings;
}

/**
 * The residency check: every stack of the app must be declared with its allowed regions, be
 * deployed to one of them and mention no other.
 */
export class ResidencyChecks implements IPolicyValidationPlugin {
  public readonly name = 'Residency';
  private readonly allowed = new Map<string, readonly string[]>();

  /** Declares the regions a stack's resources may live in and refer to. */
  public declare(stack: Stack, allowedRegions: readonly string[]): void {
    if (allowedRegions.length === 0) throw new Error(`${stack.node.path}: allowedRegions must not be empty`);
    this.allowed.set(stack.node.path, allowedRegions);
  }

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const violations: PolicyViolation[] = [];
    const templates = new Map(
      context.stackTemplates.map((stack) => [
        stack.templatePath,
        JSON.parse(readFileSync(stack.templatePath, 'utf8')) as Template,
      ]),
    );
    const appExports = exportNames([...templates.values()]);
    for (const stack of context.stackTemplates) {
      const allowedRegions = this.allowed.get(stack.stackConstructPath);
      const findings: Finding[] = [];
      if (!allowedRegions) {
        findings.push({
          rule: 'Residency-Undeclared',
          location: 'Stack',
          message: 'no allowed regions declared',
        });
      } else {
        if (!stack.region || !allowedRegions.includes(stack.region)) {
          findings.push({
            rule: 'Residency-StackRegion',
            location: 'Stack',
            message: `deploys to ${stack.region ?? 'an unspecified region'}, outside the allowed regions (${allowedRegions.join(', ')})`,
          });
        }
        const template = templates.get(stack.templatePath) as Template;
        findings.push(...residencyFindings(template, allowedRegions, appExports));
      }
      const paths = constructPaths(context.appConstruct, stack.stackConstructPath);
      for (const f of findings) {
        const constructPath = f.logicalId
          ? (paths.get(f.logicalId) ?? `${stack.stackConstructPath}/${f.logicalId}`)
          : stack.stackConstructPath;
        violations.push({
          ruleName: f.rule,
          description: `${constructPath}: ${f.message}`,
          // Fatal: CDK lets `Validations.acknowledge` suppress errors, but not fatal violations.
          severity: 'fatal',
          fix: "Keep every resource, replica, destination and reference in the environment's allowedRegions (cdk.json)",
          violatingResources: [
            {
              constructPath,
              resourceLogicalId: f.logicalId,
              templatePath: stack.templatePath,
              locations: [f.location],
            },
          ],
        });
      }
    }
    return { success: violations.length === 0, violations };
  }
}

/** The export names of the templates' outputs (literal names, as CDK writes them). */
export function exportNames(templates: readonly Template[]): Set<string> {
  const names = new Set<string>();
  for (const t of templates)
    for (const output of Object.values(t.Outputs ?? {})) {
      const name = output.Export?.Name;
      if (typeof name === 'string') names.add(name);
    }
  return names;
}

/** Construct path of each CloudFormation resource of a stack, by logical id. */
function constructPaths(app: IConstruct, stackPath: string): Map<string, string> {
  const stack = app.node.findAll().find((c) => Stack.isStack(c) && c.node.path === stackPath) as
    | Stack
    | undefined;
  const paths = new Map<string, string>();
  if (!stack) return paths;
  for (const c of stack.node.findAll()) {
    if (CfnResource.isCfnResource(c) && Stack.of(c) === stack)
      paths.set(stack.resolve(c.logicalId), c.node.path);
  }
  return paths;
}
