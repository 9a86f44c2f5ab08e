/**
 * Where the local event source mapping sends the records it gives up on (retries exhausted or
 * too old), in the shape AWS Lambda uses for a Kinesis event source mapping's on-failure
 * destination.
 *
 * AWS sources (Lambda Developer Guide, "Retain discarded batch records for a Kinesis Data Streams
 * event source in Lambda", https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html):
 * - every record sent to a destination is a JSON document with metadata about the failed
 *   invocation (`requestContext`, `responseContext`, `version`, `timestamp`, `KinesisBatchInfo`);
 *   "for Amazon S3 destinations, Lambda also sends the entire invocation record along with the
 *   metadata" (here: `payload`, the event the function was given for those records);
 * - the S3 object is named `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`.
 * AWS lets an S3 destination name a bucket only, so `prefix` defaults to '' for parity; the local
 * platform may still file them under `failed/`.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { OnFailureDeliveryError } from './esm/invocation.js';
import { abortableSleep } from './esm/shard-poller.js';

/** Why the records were given up on (`requestContext.condition`). */
export type OnFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** The invocation record AWS writes for a stream event source mapping (S3 flavour, with payload). */
export interface OnFailureInvocationRecord {
  readonly requestContext: {
    /** Request id of the last invocation that included these records (a fresh id if none did). */
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: OnFailureCondition;
    /** How many invocations included these records. */
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    /** 'Unhandled' when the function threw or timed out; absent for batch item failure responses. */
    readonly functionError?: string;
  };
  readonly version: '1.0';
  /** When the records were given up on (ISO 8601, UTC). */
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
  /** The records themselves as the function received them: nothing is lost. */
  readonly payload: KinesisStreamEvent;
}

/** Identifies the event source mapping that gave up (AWS puts its UUID in the S3 key). */
export interface OnFailureOrigin {
  readonly eventSourceMappingUuid: string;
}

/**
 * A destination for given-up records. `send` resolves once the record is durably stored; a
 * rejection means it was not, and the event source mapping will not move past those records.
 */
export interface OnFailureDestination {
  send(record: OnFailureInvocationRecord, origin: OnFailureOrigin): Promise<void>;
}

export interface InvocationRecordInput {
  readonly records: readonly KinesisStreamRecord[];
  readonly shardId: string;
  readonly streamArn: string;
  readonly functionArn: string;
  readonly condition: OnFailureCondition;
  readonly approximateInvokeCount: number;
  readonly requestId?: string;
  readonly functionError?: string;
  readonly now?: Date;
}

const arrivalIso = (record: KinesisStreamRecord): string =>
  new Date(Math.round(record.kinesis.approximateArrivalTimestamp * 1000)).toISOString();

/** Builds the invocation record for records given up on together (in shard order, at least one). */
export function invocationRecord(input: InvocationRecordInput): OnFailureInvocationRecord {
  const first = input.records[0];
  const last = input.records[input.records.length - 1];
  if (!first || !last) throw new RangeError('an invocation record needs at least one record');
  return {
    requestContext: {
      requestId: input.requestId ?? randomUUID(),
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(input.functionError ? { functionError: input.functionError } : {}),
    },
    version: '1.0',
    timestamp: (input.now ?? new Date()).toISOString(),
    KinesisBatchInfo: {
      shardId: input.shardId,
      startSequenceNumber: first.kinesis.sequenceNumber,
      endSequenceNumber: last.kinesis.sequenceNumber,
      approximateArrivalOfFirstRecord: arrivalIso(first),
      approximateArrivalOfLastRecord: arrivalIso(last),
      batchSize: input.records.length,
      streamArn: input.streamArn,
    },
    payload: { Records: input.records.map((record) => structuredClone(record)) },
  };
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `<prefix>aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>` (UTC). */
export function onFailureObjectKey(
  prefix: string,
  esmUuid: string,
  shardId: string,
  at: Date,
  id: string = randomUUID(),
): string {
  const [y, m, d] = [at.getUTCFullYear(), pad(at.getUTCMonth() + 1), pad(at.getUTCDate())];
  const time = `${pad(at.getUTCHours())}.${pad(at.getUTCMinutes())}.${pad(at.getUTCSeconds())}`;
  return `${prefix}aws/lambda/${esmUuid}/${shardId}/${y}/${m}/${d}/${y}-${m}-${d}T${time}-${id}`;
}

export interface OnFailureSenderProps {
  /** None: given-up records are dropped, as AWS drops them without a destination. */
  readonly destination: OnFailureDestination | undefined;
  readonly origin: OnFailureOrigin;
  readonly streamArn: string;
  readonly functionArn: string;
  /** Delay before the second try; the third waits twice as long. */
  readonly backoffMs: number;
  /** Aborts when the event source mapping stops. */
  readonly signal: AbortSignal;
}

/** Tries per invocation record before the shard stops on an OnFailureDeliveryError. */
const SEND_ATTEMPTS = 3;

/** Builds the invocation record of given-up records and stores it, retrying a little. */
export class OnFailureSender {
  constructor(private readonly props: OnFailureSenderProps) {}

  /**
   * Resolves 'sent' once stored, or 'dropped' without a destination. Rejects with
   * OnFailureDeliveryError when the record could not be stored: the caller must then stop before
   * these records rather than lose them.
   */
  async giveUp(input: Omit<InvocationRecordInput, 'streamArn' | 'functionArn'>): Promise<'sent' | 'dropped'> {
    const { destination, origin, streamArn, functionArn, backoffMs, signal } = this.props;
    if (!destination) return 'dropped';
    const record = invocationRecord({ ...input, streamArn, functionArn });
    const what = `${input.records.length} record(s) of ${input.shardId} (${input.condition})`;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await destination.send(record, origin);
        return 'sent';
      } catch (error) {
        if (attempt >= SEND_ATTEMPTS)
          throw new OnFailureDeliveryError(`could not store ${what} in the on-failure destination`, {
            cause: error,
          });
        if (!(await abortableSleep(backoffMs * attempt, signal)))
          throw new OnFailureDeliveryError(`stopped before storing ${what}`, { cause: error });
      }
    }
  }
}

export interface S3OnFailureDestinationProps {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Key prefix before AWS's `aws/lambda/...` layout. @default '' (as AWS) */
  readonly prefix?: string;
}

/** Writes each invocation record, payload included, as one JSON object, keyed as AWS does. */
export class S3OnFailureDestination implements OnFailureDestination {
  readonly bucket: string;
  readonly prefix: string;
  private readonly s3: S3Client;

  constructor(props: S3OnFailureDestinationProps) {
    if (props.prefix && !props.prefix.endsWith('/'))
      throw new RangeError(`prefix "${props.prefix}" must end with "/"`);
    this.s3 = props.s3;
    this.bucket = props.bucket;
    this.prefix = props.prefix ?? '';
  }

  async send(record: OnFailureInvocationRecord, origin: OnFailureOrigin): Promise<void> {
    const key = onFailureObjectKey(
      this.prefix,
      origin.eventSourceMappingUuid,
      record.KinesisBatchInfo.shardId,
      new Date(record.timestamp),
    );
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: JSON.stringify(record),
        ContentType: 'application/json',
      }),
    );
  }
}

/** Keeps invocation records in memory, in arrival order (tests, bounded local runs). */
export class InMemoryOnFailureDestination implements OnFailureDestination {
  readonly sent: { readonly record: OnFailureInvocationRecord; readonly origin: OnFailureOrigin }[] = [];

  async send(record: OnFailureInvocationRecord, origin: OnFailureOrigin): Promise<void> {
    this.sent.push({ record, origin });
  }

  /** All given-up records' sequence numbers, in the order they were given up. */
  get sequenceNumbers(): string[] {
    return this.sent.flatMap(({ record }) => record.payload.Records.map((r) => r.kinesis.sequenceNumber));
  }
}
