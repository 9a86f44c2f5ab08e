import {
  GetRegistryCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaCommand,
  GlueClient,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../bin/contracts-register.js';

const client = new GlueClient({
  region: 'me-central-1',
  credentials: { accessKeyId: 'k', secretAccessKey: 's' },
});
const glue = mockClient(client);
afterEach(() => glue.reset());

describe('npm run contracts:register', () => {
  it("registers into the environment's registry and reports each version", async () => {
    glue.on(GetRegistryCommand).resolves({ RegistryName: 'fp-prod-contracts', RegistryArn: 'arn:registry' });
    glue
      .on(GetSchemaCommand)
      .resolves({ SchemaArn: 'arn:schema', DataFormat: 'JSON', Compatibility: 'BACKWARD' });
    glue.on(GetSchemaByDefinitionCommand).resolves({ SchemaVersionId: 'id-1', Status: 'AVAILABLE' });
    const lines: string[] = [];

    const code = await main(['--env', 'prod'], { glue: client, out: (l) => lines.push(l) });

    expect(code).toBe(0);
    expect(glue.commandCalls(GetRegistryCommand)[0]?.args[0].input).toEqual({
      RegistryId: { RegistryName: 'fp-prod-contracts' },
    });
    expect(lines).toContain('transaction v2: already-registered (id-1)');
    expect(lines.at(-1)).toBe('contracts:register ok: registry fp-prod-contracts in me-central-1');
  });

  it.each([
    [[], /--env is required/],
    [['--env', 'qa'], /env: "qa" must be one of dev, staging, prod/],
  ])('refuses %j with a usage error', async (argv, message) => {
    const errors: string[] = [];
    expect(await main(argv, { glue: client, err: (l) => errors.push(l) })).toBe(2);
    expect(errors.join('\n')).toMatch(message);
  });

  it('exits 1 with the reason when Glue refuses', async () => {
    glue.on(GetRegistryCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    const errors: string[] = [];
    expect(await main(['--env', 'dev'], { glue: client, err: (l) => errors.push(l) })).toBe(1);
    expect(errors.join('\n')).toMatch(/contracts:register failed: .*AccessDenied|no/);
  });
});
