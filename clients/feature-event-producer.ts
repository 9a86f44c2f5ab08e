/**
 * Typed producer of contract events for services: validate, wrap, batch, send, retry, report.
 *
 *   const producer = new FeatureEventProducer({ kinesis, streamName, contract: transaction });
 *   const { sent, rejected, unsent } = await producer.send(events);
 *
 * Every input ends in exactly one of: sent (Kinesis acknowledged it), `rejected` (invalid against the
 * contract or its data-quality rules, or too large for Kinesis: never sent, with reasons) or `unsent`
 * (valid, but Kinesis did not take it within the attempt budget: with the last error code). Nothing
 * is dropped silently; only programmer and configuration mistakes throw.
 *
 * Records: the envelope `{contract, version, event}` as UTF-8 JSON, partition key = the event's
 * `partitionKeyField` (the processor quarantines a record keyed otherwise). PutRecords requests hold
 * at most 500 records and 5 MiB counting partition keys; a record over 1 MiB is a reject.
 *
 * Idempotence: event ids are assigned by the producer (the contract's `eventIdField`, required),
 * once per business event, never per attempt. A retry here resends the very same bytes, and a
 * caller resending its `unsent` events (or a whole file) resends the same ids; the processor keeps
 * the recent event ids of each entity and records a repeat as a duplicate, so at-least-once sending
 * has an exactly-once effect. That is also why a response we cannot read is answered by sending
 * the whole request again.
 *
 * Retries: a partial failure (`FailedRecordCount` > 0; per-record `ErrorCode`
 * ProvisionedThroughputExceededException or InternalFailure) retries only the failed records; a
 * whole request that fails for a transient reason (throttling, 5xx, network) is retried the same
 * way, after the SDK's own retries. Each record gets at most `maxAttempts` attempts, with
 * exponential backoff and full jitter between rounds; an error no retry can fix (unknown stream,
 * access denied) throws `ProducerRequestError` with what was sent so far.
 *
 * Order per partition key. What Kinesis guarantees: records of one shard are read in
 * sequence-number order, and one key always maps to one shard; a PutRecords request, however, does
 * not guarantee order, because one record failing does not stop the later ones in the request.
 * Only a serial writer can keep order strictly. What this client does:
 * - records of one key are sent in input order, one request at a time (never two in flight);
 * - when a record fails, the later records of its key that have not been sent yet are held back
 *   until it is acknowledged; so a retried record never goes behind later records of its key from
 *   later requests. Later records of its key in the same request may already have been written:
 *   that reordering is the price of batching (`ordering: 'strict'` avoids it);
 * - when a record is given up on, the rest of its key is not sent and is reported `unsent` with
 *   `PrecedingRecordUnsent`, so resending the unsent events restores the order;
 * - `ordering: 'strict'` puts at most one record per key in a request: order is then kept exactly,
 *   at one round trip per record of a busy key.
 * The platform computes in event time and dedupes by event id, so arrival order is a matter of
 * freshness there, not of correctness; other consumers of the stream may care more.
 */
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import type { z } from 'zod';
import type { EventContract } from '../schemas/contract.js';
import { ProducerConfigError, ProducerRequestError } from './producer/errors.js';
import { type Ordering, RecordSender } from './producer/record-sender.js';
import type { RawRecord, Rejected, SendOptions, SendReport, Unsent } from './producer/types.js';
import { checkEvent } from './producer/validate.js';

export {
  InputFileError,
  ProducerConfigError,
  ProducerError,
  ProducerRequestError,
} from './producer/errors.js';
export { KINESIS_LIMITS, type Ordering } from './producer/record-sender.js';
export type {
  RawRecord,
  Rejected,
  SendOptions,
  SendProgress,
  SendReport,
  Unsent,
} from './producer/types.js';

export interface FeatureEventProducerProps<S extends z.ZodObject> {
  /** The contract every event is checked against and named by in its envelope. */
  readonly contract: EventContract<S>;
  readonly streamName: string;
  /** A client to use (and to destroy when done). Give this or `clientConfig`. */
  readonly kinesis?: KinesisClient;
  /** Config for a client created on first send and owned by the producer (see `destroy`). */
  readonly clientConfig?: KinesisClientConfig;
  /** PutRecords attempts per record, the first included. @default 8 */
  readonly maxAttempts?: number;
  /** Ceiling of the first backoff; it doubles per attempt. @default 100 */
  readonly baseDelayMs?: number;
  /** @default 5000 */
  readonly maxDelayMs?: number;
  /** See the class comment. @default 'batched' */
  readonly ordering?: Ordering;
  /** Clock for the contract's future-skew check (epoch ms). @default Date.now */
  readonly now?: () => number;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

const encoder = new TextEncoder();
const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class FeatureEventProducer<S extends z.ZodObject> {
  readonly #props: FeatureEventProducerProps<S>;
  readonly #sender: RecordSender;
  #client: KinesisClient | undefined;

  constructor(props: FeatureEventProducerProps<S>) {
    if (props.kinesis && props.clientConfig) {
      throw new ProducerConfigError('give either kinesis (a client) or clientConfig, not both');
    }
    if (!props.streamName) throw new ProducerConfigError('streamName is required');
    const maxAttempts = props.maxAttempts ?? 8;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
      throw new ProducerConfigError('maxAttempts must be an integer from 1 to 100');
    }
    const baseDelayMs = props.baseDelayMs ?? 100;
    const maxDelayMs = props.maxDelayMs ?? 5000;
    if (!(baseDelayMs >= 0 && maxDelayMs >= baseDelayMs)) {
      throw new ProducerConfigError('delays must satisfy 0 <= baseDelayMs <= maxDelayMs');
    }
    this.#props = props;
    this.#client = props.kinesis;
    this.#sender = new RecordSender({
      kinesis: () => {
        this.#client ??= new KinesisClient(props.clientConfig ?? {});
        return this.#client;
      },
      streamName: props.streamName,
      maxAttempts,
      backoff: { baseDelayMs, maxDelayMs, random: props.random ?? Math.random },
      ordering: props.ordering ?? 'batched',
      sleep: props.sleep ?? timer,
    });
  }

  get contract(): EventContract<S> {
    return this.#props.contract;
  }

  /** Validates, wraps and sends the events; indices in the report are positions in `events`. */
  send(events: readonly z.input<S>[], options: SendOptions = {}): Promise<SendReport> {
    const { contract } = this.#props;
    const now = (this.#props.now ?? Date.now)();
    const rejected: Rejected[] = [];
    const records: RawRecord[] = [];
    const positions: number[] = [];
    events.forEach((input, index) => {
      const checked = checkEvent(contract, input, now);
      if (!checked.ok) {
        rejected.push({ index, reason: checked.reasons.join('; '), reasons: checked.reasons });
        return;
      }
      const envelope = { contract: contract.name, version: contract.version, event: checked.event };
      records.push({
        partitionKey: String(checked.event[contract.partitionKeyField]),
        data: encoder.encode(JSON.stringify(envelope)),
      });
      positions.push(index);
    });
    return this.#sendRecords(records, options, { positions, rejected, total: events.length });
  }

  /**
   * Sends records exactly as given, with the same batching, retries and ordering as `send` but no
   * validation: for payloads that are already encoded (replays, tests of the processor's quarantine).
   */
  sendRaw(records: readonly RawRecord[], options: SendOptions = {}): Promise<SendReport> {
    return this.#sendRecords(records, options, {
      positions: records.map((_, i) => i),
      rejected: [],
      total: records.length,
    });
  }

  /** Closes the client if the producer created it; a client passed in is the caller's to destroy. */
  destroy(): void {
    if (!this.#props.kinesis) this.#client?.destroy();
    this.#client = undefined;
  }

  async #sendRecords(
    records: readonly RawRecord[],
    options: SendOptions,
    input: { positions: readonly number[]; rejected: readonly Rejected[]; total: number },
  ): Promise<SendReport> {
    const at = (i: number) => input.positions[i] as number;
    const toInput = (r: SendReport): SendReport => ({
      sent: r.sent,
      rejected: [...input.rejected, ...r.rejected.map((x): Rejected => ({ ...x, index: at(x.index) }))].sort(
        (a, b) => a.index - b.index,
      ),
      unsent: r.unsent.map((x): Unsent => ({ ...x, index: at(x.index) })),
    });
    try {
      const report = await this.#sender.send(records, {
        onProgress: (p) =>
          options.onProgress?.({ ...p, total: input.total, rejected: p.rejected + input.rejected.length }),
      });
      return toInput(report);
    } catch (error) {
      if (!(error instanceof ProducerRequestError)) throw error;
      throw new ProducerRequestError(error.message, toInput(error.report), { cause: error.cause });
    }
  }
}
