/**
 * `npm run contracts:register -- --env prod`: after `cdk deploy`, registers every contract, its
 * compatibility mode and its versions in order in the environment's Glue Schema Registry
 * (`fp-<env>-contracts`), idempotently, so a record's {contract, version} resolves to a schema
 * version id. Uses the default AWS credentials; the region is the environment's (cdk.json).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GlueClient } from '@aws-sdk/client-glue';
import { registerContracts } from '../lambdas/adapters/glue-schema-registry.js';
import { selectEnvironments } from '../lib/environments.js';
import { cdkJsonContext } from '../lib/platform-spec.js';
import { contracts } from '../schemas/index.js';

export async function main(
  argv: readonly string[],
  deps: { glue?: GlueClient; out?: (line: string) => void; err?: (line: string) => void } = {},
): Promise<number> {
  const out = deps.out ?? ((line: string) => console.log(line));
  const err = deps.err ?? ((line: string) => console.error(line));
  let env: string;
  try {
    const { values } = parseArgs({ args: [...argv], options: { env: { type: 'string' } }, strict: true });
    if (!values.env) throw new Error('--env is required (dev, staging or prod)');
    env = values.env;
  } catch (error) {
    err(
      `contracts:register: ${(error as Error).message}\nusage: npm run contracts:register -- --env <dev|staging|prod>`,
    );
    return 2;
  }
  let region: string;
  try {
    const [selected] = selectEnvironments({ environments: cdkJsonContext().environments, env });
    region = selected?.region ?? '';
  } catch (error) {
    err(`contracts:register: ${(error as Error).message}`);
    return 2;
  }
  const glue = deps.glue ?? new GlueClient({ region });
  try {
    const result = await registerContracts({
      glue,
      registryName: `fp-${env}-contracts`,
      contracts: contracts.values(),
    });
    for (const schema of result.schemas) {
      for (const v of schema.versions)
        out(`${schema.contract} v${v.version}: ${v.outcome} (${v.schemaVersionId})`);
    }
    out(`contracts:register ok: registry ${result.registryName} in ${region}`);
    return 0;
  } catch (error) {
    err(`contracts:register failed: ${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
