/**
 * The Glue Schema Registry adapter against aws-sdk-client-mock: Glue has no local stand-in.
 */
import {
  AccessDeniedException,
  AlreadyExistsException,
  CreateRegistryCommand,
  CreateSchemaCommand,
  EntityNotFoundException,
  GetRegistryCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaCommand,
  GetSchemaVersionCommand,
  GlueClient,
  RegisterSchemaVersionCommand,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  registerContracts,
  SchemaConflictError,
  SchemaRegistryError,
  SchemaVersionFailedError,
  SchemaVersionTimeoutError,
  schemaVersionIdOf,
} from '../../lambdas/adapters/glue-schema-registry.js';
import { contractJsonSchemas } from '../../schemas/compatibility/json-schema.js';
import { transaction } from '../../schemas/transaction.contract.js';

const client = new GlueClient({
  region: 'me-central-1',
  credentials: { accessKeyId: 'k', secretAccessKey: 's' },
});
const glue = mockClient(client);
afterEach(() => {
  glue.reset();
  sleep.mockClear();
});

const REGISTRY = 'fp-contracts-test';
const ARN = `arn:aws:glue:me-central-1:123456789012:schema/${REGISTRY}/transaction`;
const [V1, V2] = contractJsonSchemas(transaction).map((v) => v.text) as [string, string];
const ID1 = '11111111-1111-4111-8111-111111111111';
const ID2 = '22222222-2222-4222-8222-222222222222';

const notFound = () => new EntityNotFoundException({ message: 'not found', $metadata: {} });
const sleep = vi.fn(async (_ms: number) => {});
const register = () =>
  registerContracts({
    glue: client,
    registryName: REGISTRY,
    contracts: [transaction],
    sleep,
    wait: { intervalMs: 5 },
  });

/** A registry with nothing in it: everything is created, v2 waits one poll before AVAILABLE. */
function freshRegistry() {
  glue.on(GetRegistryCommand).rejects(notFound());
  glue
    .on(CreateRegistryCommand)
    .resolves({ RegistryName: REGISTRY, RegistryArn: `arn:registry/${REGISTRY}` });
  glue.on(GetSchemaCommand).rejects(notFound());
  glue
    .on(CreateSchemaCommand)
    .resolves({ SchemaArn: ARN, SchemaVersionId: ID1, SchemaVersionStatus: 'AVAILABLE' });
  glue.on(GetSchemaByDefinitionCommand).rejects(notFound());
  glue
    .on(RegisterSchemaVersionCommand)
    .resolves({ SchemaVersionId: ID2, VersionNumber: 2, Status: 'PENDING' });
}

/** A registry where both versions are registered and available. */
function populatedRegistry() {
  glue.on(GetRegistryCommand).resolves({ RegistryName: REGISTRY, RegistryArn: `arn:registry/${REGISTRY}` });
  glue.on(GetSchemaCommand).resolves({ SchemaArn: ARN, DataFormat: 'JSON', Compatibility: 'BACKWARD' });
  glue
    .on(GetSchemaByDefinitionCommand, { SchemaDefinition: V1 })
    .resolves({ SchemaVersionId: ID1, Status: 'AVAILABLE' });
  glue
    .on(GetSchemaByDefinitionCommand, { SchemaDefinition: V2 })
    .resolves({ SchemaVersionId: ID2, Status: 'AVAILABLE' });
}

describe('registering the contracts in Glue', () => {
  it('creates the registry, the schema with v1, and registers v2 once it is available', async () => {
    freshRegistry();
    glue.on(GetSchemaVersionCommand).resolvesOnce({ Status: 'PENDING' }).resolves({ Status: 'AVAILABLE' });

    const registration = await register();

    expect(glue.commandCalls(CreateRegistryCommand)[0]?.args[0].input).toMatchObject({
      RegistryName: REGISTRY,
    });
    expect(glue.commandCalls(CreateSchemaCommand)[0]?.args[0].input).toEqual({
      RegistryId: { RegistryName: REGISTRY },
      SchemaName: 'transaction',
      DataFormat: 'JSON',
      Compatibility: 'BACKWARD',
      Description: transaction.description,
      SchemaDefinition: V1,
    });
    const registered = glue.commandCalls(RegisterSchemaVersionCommand).map((c) => c.args[0].input);
    expect(registered).toEqual([
      { SchemaId: { RegistryName: REGISTRY, SchemaName: 'transaction' }, SchemaDefinition: V2 },
    ]);
    expect(glue.commandCalls(GetSchemaVersionCommand).map((c) => c.args[0].input)).toEqual([
      { SchemaVersionId: ID2 },
      { SchemaVersionId: ID2 },
    ]);
    expect(sleep).toHaveBeenCalledWith(5);
    expect(registration.schemas).toEqual([
      {
        contract: 'transaction',
        schemaArn: ARN,
        versions: [
          { version: 1, schemaVersionId: ID1, outcome: 'registered' },
          { version: 2, schemaVersionId: ID2, outcome: 'registered' },
        ],
      },
    ]);
    expect(schemaVersionIdOf(registration, 'transaction', 2)).toBe(ID2);
    expect(schemaVersionIdOf(registration, 'transaction', 3)).toBeUndefined();
  });

  it('registers nothing twice when run again: every version is found by its definition', async () => {
    populatedRegistry();

    const registration = await register();

    expect(glue.commandCalls(CreateRegistryCommand)).toHaveLength(0);
    expect(glue.commandCalls(CreateSchemaCommand)).toHaveLength(0);
    expect(glue.commandCalls(RegisterSchemaVersionCommand)).toHaveLength(0);
    expect(registration.schemas[0]?.versions).toEqual([
      { version: 1, schemaVersionId: ID1, outcome: 'already-registered' },
      { version: 2, schemaVersionId: ID2, outcome: 'already-registered' },
    ]);
  });

  it('treats AlreadyExistsException from a concurrent deploy as already registered', async () => {
    populatedRegistry();
    glue.on(GetRegistryCommand).rejects(notFound());
    glue.on(CreateRegistryCommand).rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
    glue
      .on(GetSchemaCommand)
      .rejectsOnce(notFound())
      .resolves({ SchemaArn: ARN, DataFormat: 'JSON', Compatibility: 'BACKWARD' });
    glue.on(CreateSchemaCommand).rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));

    const registration = await register();

    expect(glue.commandCalls(CreateRegistryCommand)).toHaveLength(1);
    expect(glue.commandCalls(CreateSchemaCommand)).toHaveLength(1);
    expect(glue.commandCalls(GetSchemaCommand)).toHaveLength(2);
    expect(registration.schemas[0]?.versions.map((v) => v.schemaVersionId)).toEqual([ID1, ID2]);
    expect(glue.commandCalls(RegisterSchemaVersionCommand)).toHaveLength(0);
  });

  it('fails with the contract and version when Glue refuses a version (status FAILURE)', async () => {
    freshRegistry();
    glue.on(GetSchemaVersionCommand).resolves({ Status: 'FAILURE' });

    const failure = await register().catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(SchemaVersionFailedError);
    expect(failure).toMatchObject({ contract: 'transaction', version: 2 });
    expect((failure as Error).message).toContain(`schema version ${ID2} of transaction v2 is not usable`);
  });

  it('stops waiting for a PENDING version after the bounded number of polls', async () => {
    freshRegistry();
    glue.on(GetSchemaVersionCommand).resolves({ Status: 'PENDING' });

    const failure = registerContracts({
      glue: client,
      registryName: REGISTRY,
      contracts: [transaction],
      sleep,
      wait: { intervalMs: 1, maxAttempts: 3 },
    });

    await expect(failure).rejects.toThrow(SchemaVersionTimeoutError);
    expect(glue.commandCalls(GetSchemaVersionCommand)).toHaveLength(3);
  });

  it('rethrows AccessDenied as a registry error that names the call and keeps the SDK error as cause', async () => {
    const denied = new AccessDeniedException({
      message: 'not authorized to glue:GetRegistry',
      $metadata: {},
    });
    glue.on(GetRegistryCommand).rejects(denied);

    const failure = await register().catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(SchemaRegistryError);
    expect((failure as Error).message).toBe(
      `GetRegistry in registry ${REGISTRY} failed: AccessDeniedException: not authorized to glue:GetRegistry`,
    );
    expect((failure as Error).cause).toBe(denied);
    expect(glue.commandCalls(CreateRegistryCommand)).toHaveLength(0);
  });

  it('refuses to register into a schema whose compatibility mode differs from the contract', async () => {
    populatedRegistry();
    glue.on(GetSchemaCommand).resolves({ SchemaArn: ARN, DataFormat: 'JSON', Compatibility: 'NONE' });

    await expect(register()).rejects.toThrow(SchemaConflictError);
    expect(glue.commandCalls(GetSchemaByDefinitionCommand)).toHaveLength(0);
  });
});
