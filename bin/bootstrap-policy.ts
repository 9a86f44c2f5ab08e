/**
 * `npm run bootstrap-policy -- --env prod [--account <id>]`: prints the CloudFormation execution
 * policy to bootstrap that environment's account with (lib/bootstrap-policy.ts), from its synthesized
 * templates (the same synth as `cdk synth -c env=<env>`, without bundling the functions). With
 * `--boundary`, the permissions boundary every role of the stacks carries but the deployers', and
 * with `--deployer-boundary` theirs, which must both exist before the first deploy; with `--scp`,
 * the service control policy denying every other region, for the organisation to attach to the
 * account. With `--before-boundary`, the execution policy for the one deploy that puts the boundary
 * on an environment deployed before it (without the statements that keep it; bootstrap again with
 * the full policy afterwards). Then, as an account administrator:
 *
 *   aws iam create-policy --policy-name fp-<env>-permissions-boundary --policy-document file://boundary.json
 *   aws iam create-policy --policy-name fp-<env>-deployer-boundary --policy-document file://deployer-boundary.json
 *   aws iam create-policy --policy-name fp-<env>-cfn-exec --policy-document file://policy.json
 *   npx cdk bootstrap aws://<account>/<region> \
 *     --cloudformation-execution-policies arn:aws:iam::<account>:policy/fp-<env>-cfn-exec
 */
import { parseArgs } from 'node:util';
import { deployerRoleNames } from '../lib/access-roles.js';
import { buildApp } from '../lib/app-builder.js';
import {
  cloudFormationExecutionPolicy,
  deployerBoundaryPolicy,
  permissionsBoundaryPolicy,
  regionDenyServiceControlPolicy,
} from '../lib/bootstrap-policy.js';
import { cdkJsonContext } from '../lib/platform-spec.js';

const USAGE =
  'usage: npm run bootstrap-policy -- --env <dev|staging|prod> [--account <12-digit id>] [--boundary | --deployer-boundary | --scp | --before-boundary]';

function main(): number {
  const { values } = parseArgs({
    options: {
      env: { type: 'string' },
      account: { type: 'string' },
      scp: { type: 'boolean', default: false },
      boundary: { type: 'boolean', default: false },
      'before-boundary': { type: 'boolean', default: false },
      'deployer-boundary': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.env) throw new Error('--env is required');
  const which = [values.scp, values.boundary, values['deployer-boundary'], values['before-boundary']];
  if (which.filter(Boolean).length > 1)
    throw new Error(
      '--boundary, --deployer-boundary, --scp and --before-boundary print different policies: ask for one',
    );
  const { app, deployments } = buildApp(
    {
      ...cdkJsonContext(),
      env: values.env,
      ...(values.account ? { account: values.account } : {}),
      'aws:cdk:bundling-stacks': [],
    },
    { builtinCloudFormationValidation: false },
  );
  const assembly = app.synth();
  const [deployment] = deployments;
  if (!deployment) throw new Error(`no environment ${values.env}`);
  if (values.scp) {
    console.log(
      JSON.stringify(regionDenyServiceControlPolicy(deployment.environment.allowedRegions), null, 2),
    );
    return 0;
  }
  const input = {
    account: deployment.environment.account,
    deployerRoleNames: deployerRoleNames(deployment.names.prefix),
    allowedRegions: deployment.environment.allowedRegions,
    prefix: deployment.names.prefix,
    templates: assembly.stacks.map((s) => s.template),
  };
  const policy = values.boundary
    ? permissionsBoundaryPolicy(input)
    : values['deployer-boundary']
      ? deployerBoundaryPolicy(input)
      : cloudFormationExecutionPolicy(input, { enforceBoundary: !values['before-boundary'] });
  console.log(JSON.stringify(policy, null, 2));
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`bootstrap-policy: ${(error as Error).message}\n${USAGE}`);
  process.exitCode = 2;
}
