/**
 * A synthetic transaction stream for the benchmarks: customers and merchants drawn from Zipf
 * distributions (YCSB's zipfian: P(rank k) proportional to 1 / k^s), event time advancing at a fixed
 * rate, a share of malformed records (bad JSON, contract violation, unknown version, data-quality
 * rule, wrong partition key), a share of producer retries (an earlier event sent again as a new
 * record) and a share of producers still on contract v1.
 * Seeded, so every run sees the same records.
 */
import type { InputRecord } from '../../lambdas/core/decode.js';
import { seededRandom } from '../../local/seeded-random.js';
import { BASE_TIME, kinesisSequence } from '../support/records.js';

/** Samples ranks 1..n with P(k) proportional to k^-s, by binary search in the cumulative distribution. */
export class Zipf {
  readonly #cdf: Float64Array;
  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    this.#cdf = new Float64Array(n);
    let total = 0;
    for (let k = 1; k <= n; k++) {
      total += k ** -s;
      this.#cdf[k - 1] = total;
    }
    for (let i = 0; i < n; i++) this.#cdf[i] = (this.#cdf[i] as number) / total;
  }
  /** P(rank k), 1-based. */
  p(k: number): number {
    return (this.#cdf[k - 1] as number) - (k > 1 ? (this.#cdf[k - 2] as number) : 0);
  }
  sample(random: () => number): number {
    const u = random();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}

export interface StreamOptions {
  readonly customers: number;
  readonly customerExponent: number;
  readonly merchants: number;
  readonly merchantExponent: number;
  /** Event-time rate of the stream (records per second of event time). */
  readonly eventsPerSecond: number;
  /** Share of records that are malformed in one of four ways. */
  readonly malformedShare: number;
  /** Share of records that re-send one of the last few hundred events (same event id, new record). */
  readonly duplicateShare: number;
  /** Share of valid events still sent by producers on contract v1 (upgraded to v2 by the processor). */
  readonly v1Share: number;
  readonly seed: number;
  readonly shardId?: string;
}

export const customerIdOf = (rank: number): string => `cus_${String(rank).padStart(5, '0')}`;
export const merchantIdOf = (rank: number): string => `mer_${String(rank).padStart(4, '0')}`;

const CHANNELS = ['pos', 'ecommerce', 'atm', 'wallet'] as const;
const COUNTRIES = ['AE', 'AE', 'AE', 'AE', 'SA', 'GB', 'IN'] as const;
const MCCS = ['5411', '5812', '5999', '4111', '5541', '6011'] as const;

interface SentEvent {
  readonly payload: string;
  readonly customerId: string;
}

/** An endless, deterministic stream of records on one shard; `next(n)` continues where it stopped. */
export class TransactionStream {
  readonly customers: Zipf;
  readonly merchants: Zipf;
  readonly shardId: string;
  readonly #random: () => number;
  readonly #recent: SentEvent[] = [];
  #index = 0;
  constructor(readonly options: StreamOptions) {
    this.customers = new Zipf(options.customers, options.customerExponent);
    this.merchants = new Zipf(options.merchants, options.merchantExponent);
    this.shardId = options.shardId ?? 'shardId-000000000000';
    this.#random = seededRandom(options.seed);
  }

  /** Seconds of event time the stream has covered so far. */
  get elapsedSeconds(): number {
    return this.#index / this.options.eventsPerSecond;
  }

  next(count: number): InputRecord[] {
    const out: InputRecord[] = [];
    for (let i = 0; i < count; i++) out.push(this.#record());
    return out;
  }

  #record(): InputRecord {
    const random = this.#random;
    const index = this.#index++;
    const arrivalTime = BASE_TIME + Math.floor((index * 1000) / this.options.eventsPerSecond);
    const sequenceNumber = kinesisSequence(Number(/\d+$/.exec(this.shardId)?.[0] ?? 0), index, arrivalTime);
    const roll = random();
    let payload: string;
    let partitionKey: string;
    if (roll < this.options.malformedShare) {
      ({ payload, partitionKey } = this.#malformed(arrivalTime));
    } else if (roll < this.options.malformedShare + this.options.duplicateShare && this.#recent.length > 0) {
      const again = this.#recent[Math.floor(random() * this.#recent.length)] as SentEvent;
      payload = again.payload;
      partitionKey = again.customerId;
    } else {
      const event = this.#event(arrivalTime);
      if (random() < this.options.v1Share) {
        const { mcc: _, cardPresent: __, ...v1 } = event;
        payload = JSON.stringify({ contract: 'transaction', version: 1, event: v1 });
      } else {
        payload = JSON.stringify({ contract: 'transaction', version: 2, event });
      }
      partitionKey = event.customerId;
      this.#recent.push({ payload, customerId: event.customerId });
      if (this.#recent.length > 500) this.#recent.shift();
    }
    return {
      recordId: `${this.shardId}:${sequenceNumber}`,
      shardId: this.shardId,
      sequenceNumber,
      partitionKey,
      arrivalTime,
      data: Buffer.from(payload).toString('base64'),
    };
  }

  #event(arrivalTime: number) {
    const random = this.#random;
    const customerId = customerIdOf(this.customers.sample(random));
    const channel = CHANNELS[Math.floor(random() * CHANNELS.length)] as string;
    return {
      eventId: uuidOf(random),
      customerId,
      merchantId: merchantIdOf(this.merchants.sample(random)),
      // Skewed amounts, in fils: most small, a few large.
      amountMinor: 100 + Math.floor(random() ** 3 * 2_000_000),
      currency: random() < 0.9 ? 'AED' : 'USD',
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)] as string,
      channel,
      customerEmail: `${customerId}@example.ae`,
      mcc: MCCS[Math.floor(random() * MCCS.length)] as string,
      cardPresent: channel === 'pos' || channel === 'atm',
      // Producers stamp the event up to 2 s before it reaches the stream: slightly out of order.
      eventTime: new Date(arrivalTime - Math.floor(random() * 2000)).toISOString(),
    };
  }

  #malformed(arrivalTime: number): { payload: string; partitionKey: string } {
    const event = this.#event(arrivalTime);
    const envelope = (e: unknown, version = 1) =>
      JSON.stringify({ contract: 'transaction', version, event: e });
    switch (Math.floor(this.#random() * 4)) {
      case 0: // truncated in flight
        return { payload: envelope(event).slice(0, 40), partitionKey: event.customerId };
      case 1: // violates the contract
        return {
          payload: envelope({ ...event, currency: 'aed', amountMinor: -5 }),
          partitionKey: event.customerId,
        };
      case 2: // a version the platform does not know
        return { payload: envelope(event, 7), partitionKey: event.customerId };
      case 3: // breaks a data-quality rule (a currency the bank does not settle)
        return { payload: envelope({ ...event, currency: 'JPY' }), partitionKey: event.customerId };
      default: // keyed by the wrong field
        return { payload: envelope(event), partitionKey: event.merchantId };
    }
  }
}

/** Expected number of distinct ranks among `draws` samples: sum over k of 1 - (1 - p_k)^draws. */
export function expectedDistinct(zipf: Zipf, draws: number): number {
  let total = 0;
  for (let k = 1; k <= zipf.n; k++) total += 1 - (1 - zipf.p(k)) ** draws;
  return total;
}

/**
 * A version-4 UUID from the stream's seeded generator: producers' event ids are random like this,
 * not counters (whose shared digits would flatter any compression of stored ids).
 */
function uuidOf(random: () => number): string {
  let hex = '';
  for (let i = 0; i < 4; i++)
    hex += Math.floor(random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
