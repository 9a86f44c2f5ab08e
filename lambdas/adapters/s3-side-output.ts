/**
 * Side outputs on S3: one JSON object per record and kind at
 * `<kind>/dt=<arrival yyyy-mm-dd>/<shardId>/<sequenceNumber>.json` (kind: quarantine, late,
 * duplicate), holding the reason and the raw payload, so nothing is lost and a redelivery
 * rewrites the same object.
 */
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { utcDate } from '../core/latest-values.js';
import type { PutResult, SideOutput, SideOutputEntry } from '../core/ports.js';
import { mapWithConcurrency } from './concurrency.js';
import { asError, SideOutputError } from './errors.js';

export interface S3SideOutputProps {
  readonly bucket: string;
  readonly client?: S3Client;
  readonly clientConfig?: S3ClientConfig;
}

export const sideOutputKey = (e: SideOutputEntry): string => {
  const [shardId, sequenceNumber] = e.recordId.split(':');
  return `${e.kind}/dt=${utcDate(e.arrivalTime)}/${shardId}/${sequenceNumber}.json`;
};

export class S3SideOutput implements SideOutput {
  #s3?: S3Client;
  constructor(private readonly props: S3SideOutputProps) {}

  private get s3(): S3Client {
    this.#s3 ??= this.props.client ?? new S3Client(this.props.clientConfig ?? {});
    return this.#s3;
  }

  put(entries: readonly SideOutputEntry[]): Promise<PutResult[]> {
    return mapWithConcurrency(entries, 8, async (entry) => {
      const key = sideOutputKey(entry);
      try {
        await this.s3.send(
          new PutObjectCommand({
            Bucket: this.props.bucket,
            Key: key,
            Body: JSON.stringify({ ...entry, arrivalTime: new Date(entry.arrivalTime).toISOString() }),
            ContentType: 'application/json',
          }),
        );
        return 'stored';
      } catch (error) {
        return {
          failed: new SideOutputError(`put of ${key} failed: ${asError(error).message}`, 'side-output', {
            cause: error,
          }),
        };
      }
    });
  }
}
