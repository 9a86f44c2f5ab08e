/**
 * Side outputs on S3: one JSON object per record and kind at
 * `<kind>/dt=<arrival yyyy-mm-dd>/<shardId>/<sequenceNumber>.json` (kind: quarantine, late,
 * duplicate), holding the reason and the raw payload, so nothing is lost and a redelivery
 * rewrites the same object. The payload may carry PII, so it is sealed under the PII key
 * (`sealedData`); the reason never holds a value.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { parkedDoneKey } from '../../lib/platform-spec.js';
import { recordIdOfParkedKey, sideOutputKey } from '../core/batch-outputs.js';
import type {
  Failed,
  ParkedEntry,
  PayloadSealer,
  PutResult,
  SideOutput,
  SideOutputEntry,
} from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import { asError, SideOutputError } from './errors.js';

export interface S3SideOutputProps {
  readonly bucket: string;
  /** Seals each raw payload under the PII key (it may carry PII). Without one, payloads are stored as sent. */
  readonly sealer?: PayloadSealer;
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
}

export { sideOutputKey };

const isNoSuchKey = (error: unknown): boolean =>
  ['NoSuchKey', 'NotFound'].includes((error as { name?: string } | undefined)?.name ?? '');

export class S3SideOutput implements SideOutput {
  #s3?: S3Client;
  constructor(private readonly props: S3SideOutputProps) {}

  private get s3(): S3Client {
    this.#s3 ??= this.props.client ?? new S3Client(this.props.clientConfig ?? {});
    return this.#s3;
  }

  async #document(entry: SideOutputEntry): Promise<Record<string, unknown>> {
    const { data, ...rest } = entry;
    const doc = { ...rest, arrivalTime: new Date(entry.arrivalTime).toISOString() };
    if (!this.props.sealer) return { ...doc, data };
    return { ...doc, sealedData: await this.props.sealer.seal(Buffer.from(data, 'base64')) };
  }

  put(entries: readonly SideOutputEntry[]): Promise<PutResult[]> {
    return mapWithConcurrency(entries, 8, async (entry) => {
      const key = sideOutputKey(entry);
      return this.#attempt(`put of ${key}`, async (): Promise<PutResult> => {
        await this.#putJson(key, await this.#document(entry));
        return 'stored';
      });
    });
  }

  /** What `work` returns, or its error as a failure of this store naming `what`. */
  async #attempt<T>(what: string, work: () => Promise<T>): Promise<T | Failed> {
    try {
      return await work();
    } catch (error) {
      return {
        failed: new SideOutputError(`${what} failed: ${asError(error).message}`, 'side-output', {
          cause: error,
        }),
      };
    }
  }

  #putJson(key: string, doc: unknown): Promise<unknown> {
    return this.s3.send(
      new PutObjectCommand({
        Bucket: this.props.bucket,
        Key: key,
        Body: JSON.stringify(doc),
        ContentType: 'application/json',
      }),
    );
  }

  #delete(key: string): Promise<unknown> {
    return this.s3.send(new DeleteObjectCommand({ Bucket: this.props.bucket, Key: key }));
  }

  /** The JSON object under `key`, or undefined if there is none. */
  async #json(key: string): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.props.bucket, Key: key }));
      return JSON.parse((await out.Body?.transformToString()) ?? '{}') as Record<string, unknown>;
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw error;
    }
  }

  /** Reads what a completion needs of each entry (not its payload, which stays sealed), or its completion. */
  parked(keys: readonly string[]): Promise<(ParkedEntry | undefined | Failed)[]> {
    return mapWithConcurrency(keys, 8, (key) =>
      this.#attempt(`read of ${key}`, async (): Promise<ParkedEntry | undefined> => {
        const doc = await this.#json(key);
        if (doc?.kind === 'parked' && typeof doc.recordId === 'string') {
          return {
            recordId: doc.recordId,
            ...(Array.isArray(doc.groups) ? { groups: doc.groups.map(String) } : {}),
            ...(typeof doc.dataSha256 === 'string' ? { dataSha256: doc.dataSha256 } : {}),
            ...(typeof doc.narrowedBy === 'string' ? { narrowedBy: doc.narrowedBy } : {}),
          };
        }
        const done = await this.#json(parkedDoneKey(key));
        return typeof done?.recordId === 'string' && typeof done.completedBy === 'string'
          ? {
              recordId: done.recordId,
              completedBy: done.completedBy,
              ...(done.partial ? { groups: [] } : {}),
              ...(typeof done.dataSha256 === 'string' ? { dataSha256: done.dataSha256 } : {}),
              ...(typeof done.narrowedBy === 'string' ? { narrowedBy: done.narrowedBy } : {}),
            }
          : undefined;
      }),
    );
  }

  /** Takes groups off each entry that exists (read first: most records were never parked). */
  unparkGroups(entries: readonly { key: string; groups: readonly string[] }[]): Promise<PutResult[]> {
    return mapWithConcurrency(entries, 8, ({ key, groups }) =>
      this.#attempt(`unparking ${key}`, async (): Promise<PutResult> => {
        const doc = await this.#json(key);
        if (doc?.kind !== 'parked' || !Array.isArray(doc.groups)) return 'stored';
        const left = (doc.groups as unknown[]).map(String).filter((g) => !groups.includes(g));
        if (left.length === 0) await this.#delete(key);
        else await this.#putJson(key, { ...doc, groups: left });
        return 'stored';
      }),
    );
  }

  /** Rewrites each entry with the groups still refusing it (its payload and all else as they were). */
  narrowParked(
    narrowings: readonly { key: string; groups: readonly string[]; by: string }[],
  ): Promise<PutResult[]> {
    return mapWithConcurrency(narrowings, 8, ({ key, groups, by }) =>
      this.#attempt(`narrowing of ${key}`, async (): Promise<PutResult> => {
        const doc = await this.#json(key);
        if (doc?.kind === 'parked')
          await this.#putJson(key, { ...doc, groups, outcome: 'applied', narrowedBy: by });
        return 'stored';
      }),
    );
  }

  /** Writes each entry's completion (under parked-done/), then deletes the entry. */
  completeParked(completions: Parameters<SideOutput['completeParked']>[0]): Promise<PutResult[]> {
    return mapWithConcurrency(completions, 8, ({ key, by, partial, dataSha256, narrowedBy }) =>
      this.#attempt(`completion of ${key}`, async (): Promise<PutResult> => {
        await this.#putJson(parkedDoneKey(key), {
          recordId: recordIdOfParkedKey(key),
          completedBy: by,
          partial,
          dataSha256,
          ...(narrowedBy ? { narrowedBy } : {}),
        });
        await this.#delete(key);
        return 'stored';
      }),
    );
  }
}
