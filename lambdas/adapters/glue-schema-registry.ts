/**
 * Registers the event contracts in an AWS Glue Schema Registry: one schema per contract (named as
 * the contract, DataFormat JSON, Compatibility = the contract's mode), its versions registered in
 * order, each awaited until AVAILABLE. The definitions are the committed snapshots' text
 * (`schemas/compatibility/json-schema.ts`), so Glue holds exactly what review saw.
 *
 * Idempotent: a re-run finds every version by its definition (GetSchemaByDefinition) and
 * registers nothing twice. The report maps each (contract, version), which every record envelope
 * already carries, to Glue's SchemaVersionId, so a consumer can resolve a record's schema.
 */
import {
  CreateRegistryCommand,
  CreateSchemaCommand,
  GetRegistryCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaCommand,
  GetSchemaVersionCommand,
  type GlueClient,
  RegisterSchemaVersionCommand,
  type SchemaId,
  type SchemaVersionStatus,
} from '@aws-sdk/client-glue';
import { contractJsonSchemas, type VersionSchema } from '../../schemas/compatibility/json-schema.js';
import type { EventContract } from '../../schemas/contract.js';
import {
  asError,
  SchemaConflictError,
  SchemaRegistryError,
  SchemaVersionFailedError,
  SchemaVersionTimeoutError,
} from './errors.js';

export {
  SchemaConflictError,
  SchemaRegistryError,
  SchemaVersionFailedError,
  SchemaVersionTimeoutError,
} from './errors.js';

export interface RegisterContractsProps {
  readonly glue: GlueClient;
  readonly registryName: string;
  readonly contracts: Iterable<EventContract>;
  /** @default 'Event contracts of the feature platform' */
  readonly registryDescription?: string;
  /** Polling of a PENDING version. @default { intervalMs: 1000, maxAttempts: 30 } */
  readonly wait?: { readonly intervalMs?: number; readonly maxAttempts?: number };
  /** @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RegisteredVersion {
  readonly version: number;
  readonly schemaVersionId: string;
  /** `registered` by this run, or found `already-registered` by its definition. */
  readonly outcome: 'registered' | 'already-registered';
}

export interface RegisteredSchema {
  readonly contract: string;
  readonly schemaArn: string | undefined;
  readonly versions: readonly RegisteredVersion[];
}

export interface Registration {
  readonly registryName: string;
  readonly registryArn: string | undefined;
  readonly schemas: readonly RegisteredSchema[];
}

const errorName = (error: unknown): string | undefined => (error as { name?: string } | undefined)?.name;
const isNotFound = (error: unknown): boolean => errorName(error) === 'EntityNotFoundException';
/** Glue's "already exists": the thing is registered, which is what we wanted. */
const isAlreadyExists = (error: unknown): boolean => errorName(error) === 'AlreadyExistsException';
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Registrar {
  private readonly intervalMs: number;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly props: RegisterContractsProps) {
    this.intervalMs = props.wait?.intervalMs ?? 1000;
    this.maxAttempts = props.wait?.maxAttempts ?? 30;
    this.sleep = props.sleep ?? defaultSleep;
  }

  /** Runs one SDK call; a failure is rethrown with its context unless `tolerate` turns it into a value. */
  private async call<T, F = never>(
    what: string,
    at: { contract?: string; version?: number },
    send: () => Promise<T>,
    tolerate?: (error: unknown) => F | undefined,
  ): Promise<T | F> {
    try {
      return await send();
    } catch (error) {
      const tolerated = tolerate?.(error);
      if (tolerated !== undefined) return tolerated;
      const where = at.contract ? ` (contract ${at.contract}${at.version ? ` v${at.version}` : ''})` : '';
      const message = `${what}${where} in registry ${this.props.registryName} failed: ${errorName(error) ?? 'Error'}: ${asError(error).message}`;
      throw new SchemaRegistryError(message, at.contract, at.version, { cause: error });
    }
  }

  async ensureRegistry(): Promise<string | undefined> {
    const RegistryName = this.props.registryName;
    const found = await this.call(
      'GetRegistry',
      {},
      () => this.props.glue.send(new GetRegistryCommand({ RegistryId: { RegistryName } })),
      (e) => (isNotFound(e) ? ('missing' as const) : undefined),
    );
    if (found !== 'missing') return found.RegistryArn;
    const Description = this.props.registryDescription ?? 'Event contracts of the feature platform';
    const created = await this.call(
      'CreateRegistry',
      {},
      () => this.props.glue.send(new CreateRegistryCommand({ RegistryName, Description })),
      (e) => (isAlreadyExists(e) ? ('raced' as const) : undefined),
    );
    return created === 'raced' ? undefined : created.RegistryArn;
  }

  private schemaId = (contract: EventContract): SchemaId => ({
    RegistryName: this.props.registryName,
    SchemaName: contract.name,
  });

  /** The schema's ARN, creating it with the first version when missing (then also that version's id and status). */
  private async ensureSchema(contract: EventContract, first: VersionSchema) {
    const at = { contract: contract.name };
    const get = () =>
      this.call(
        'GetSchema',
        at,
        () => this.props.glue.send(new GetSchemaCommand({ SchemaId: this.schemaId(contract) })),
        (e) => (isNotFound(e) ? ('missing' as const) : undefined),
      );
    let existing = await get();
    if (existing === 'missing') {
      const created = await this.call(
        'CreateSchema',
        { ...at, version: first.version },
        () =>
          this.props.glue.send(
            new CreateSchemaCommand({
              RegistryId: { RegistryName: this.props.registryName },
              SchemaName: contract.name,
              DataFormat: 'JSON',
              Compatibility: contract.compatibility,
              Description: contract.description,
              SchemaDefinition: first.text,
            }),
          ),
        (e) => (isAlreadyExists(e) ? ('raced' as const) : undefined),
      );
      if (created !== 'raced') {
        return {
          arn: created.SchemaArn,
          first: { id: created.SchemaVersionId, status: created.SchemaVersionStatus },
        };
      }
      existing = await get();
      if (existing === 'missing')
        throw new SchemaRegistryError(`schema ${contract.name} vanished`, contract.name);
    }
    if (existing.DataFormat !== 'JSON' || existing.Compatibility !== contract.compatibility) {
      throw new SchemaConflictError(
        `schema ${contract.name} exists with DataFormat ${existing.DataFormat} and Compatibility ${existing.Compatibility}; the contract declares JSON and ${contract.compatibility}. Change one of them deliberately (UpdateSchema for the mode).`,
        contract.name,
      );
    }
    return { arn: existing.SchemaArn, first: undefined };
  }

  /** The version's id: found by its definition, or registered now. */
  private async resolveVersion(contract: EventContract, v: VersionSchema) {
    const at = { contract: contract.name, version: v.version };
    const SchemaId = this.schemaId(contract);
    const found = await this.call(
      'GetSchemaByDefinition',
      at,
      () => this.props.glue.send(new GetSchemaByDefinitionCommand({ SchemaId, SchemaDefinition: v.text })),
      (e) => (isNotFound(e) ? ('missing' as const) : undefined),
    );
    if (found !== 'missing' && found.SchemaVersionId) {
      return { id: found.SchemaVersionId, status: found.Status, outcome: 'already-registered' as const };
    }
    const registered = await this.call('RegisterSchemaVersion', at, () =>
      this.props.glue.send(new RegisterSchemaVersionCommand({ SchemaId, SchemaDefinition: v.text })),
    );
    return { id: registered.SchemaVersionId, status: registered.Status, outcome: 'registered' as const };
  }

  /** Polls GetSchemaVersion until AVAILABLE; FAILURE, DELETING or too long a wait is an error. */
  private async awaitAvailable(
    contract: string,
    version: number,
    id: string | undefined,
    initial: SchemaVersionStatus | undefined,
  ): Promise<string> {
    if (!id)
      throw new SchemaRegistryError(
        `Glue returned no SchemaVersionId for ${contract} v${version}`,
        contract,
        version,
      );
    let status = initial;
    for (let attempt = 0; status !== 'AVAILABLE'; attempt++) {
      if (status === 'FAILURE' || status === 'DELETING') {
        const why =
          status === 'FAILURE'
            ? 'Glue refused it (FAILURE), usually its compatibility check against earlier versions'
            : 'it is being deleted';
        const Failure = status === 'FAILURE' ? SchemaVersionFailedError : SchemaRegistryError;
        throw new Failure(
          `schema version ${id} of ${contract} v${version} is not usable: ${why}`,
          contract,
          version,
        );
      }
      if (attempt >= this.maxAttempts) {
        throw new SchemaVersionTimeoutError(
          `schema version ${id} of ${contract} v${version} still ${status ?? 'without status'} after ${attempt} polls`,
          contract,
          version,
        );
      }
      await this.sleep(this.intervalMs);
      const polled = await this.call('GetSchemaVersion', { contract, version }, () =>
        this.props.glue.send(new GetSchemaVersionCommand({ SchemaVersionId: id })),
      );
      status = polled.Status;
    }
    return id;
  }

  async registerContract(contract: EventContract): Promise<RegisteredSchema> {
    const [first, ...later] = contractJsonSchemas(contract);
    if (!first) throw new SchemaRegistryError(`contract ${contract.name} has no version`, contract.name);
    const schema = await this.ensureSchema(contract, first);
    const versions: RegisteredVersion[] = [];
    for (const v of [first, ...later]) {
      const r =
        v === first && schema.first
          ? { ...schema.first, outcome: 'registered' as const }
          : await this.resolveVersion(contract, v);
      const schemaVersionId = await this.awaitAvailable(contract.name, v.version, r.id, r.status);
      versions.push({ version: v.version, schemaVersionId, outcome: r.outcome });
    }
    return { contract: contract.name, schemaArn: schema.arn, versions };
  }
}

/** Makes sure the registry, each contract's schema and every version exist in Glue, in order; reports their ids. */
export async function registerContracts(props: RegisterContractsProps): Promise<Registration> {
  const registrar = new Registrar(props);
  const registryArn = await registrar.ensureRegistry();
  const schemas: RegisteredSchema[] = [];
  for (const contract of props.contracts) schemas.push(await registrar.registerContract(contract));
  return { registryName: props.registryName, registryArn, schemas };
}

/** The SchemaVersionId of a contract version in a registration, if registered. */
export const schemaVersionIdOf = (r: Registration, contract: string, version: number): string | undefined =>
  r.schemas.find((s) => s.contract === contract)?.versions.find((v) => v.version === version)
    ?.schemaVersionId;
