/**
 * Which records go into the next PutRecords request, so that records of one partition key reach
 * the stream in input order as far as Kinesis lets a batching producer keep it (see
 * `FeatureEventProducer` for the guarantees). Pure state, no I/O: `RecordSender` drives it.
 *
 * Rules, for each partition key:
 * - its records are considered in input order;
 * - while one of its records waits for a retry, none of its later, never-sent records is sent
 *   (they are held back until the failed one is acknowledged);
 * - once one of its records is given up on, its remaining records are not sent either and are
 *   reported as `PrecedingRecordUnsent`, so a later resend of the unsent ones restores the order;
 * - with `ordering: 'strict'`, at most one of its records is in any request.
 */
import { ProducerError } from './errors.js';
import type { Unsent } from './types.js';

export interface Pending {
  /** Position in the caller's input. */
  readonly index: number;
  readonly key: string;
  readonly data: Uint8Array;
  /** Data plus partition key bytes: what counts towards the request limit. */
  readonly size: number;
  /** PutRecords attempts made so far. */
  attempts: number;
}

export interface Failure {
  readonly code: string;
  readonly message?: string;
}

export interface ScheduleLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly maxAttempts: number;
  readonly strict: boolean;
  /** How many never-sent records may wait behind their key before the schedule stops reading ahead. */
  readonly maxHeld: number;
}

const byIndex = (a: Pending, b: Pending) => a.index - b.index;

export class SendSchedule {
  #cursor = 0;
  /** Sent at least once, failed, awaiting another attempt; by input position. */
  #retry: Pending[] = [];
  /** Never sent, waiting behind an earlier record of their key; by input position. */
  #held: Pending[] = [];
  readonly #abandoned = new Set<string>();
  sent = 0;
  readonly unsent: Unsent[] = [];

  constructor(
    private readonly entries: readonly Pending[],
    private readonly limits: ScheduleLimits,
  ) {}

  get done(): boolean {
    return this.#cursor >= this.entries.length && this.#retry.length === 0 && this.#held.length === 0;
  }

  /** Attempts already made by the most-tried record awaiting a retry; 0 when none is. */
  get retryAttempts(): number {
    return this.#retry.reduce((max, p) => Math.max(max, p.attempts), 0);
  }

  /** The records of the next request, in input order; never empty while not `done`. */
  next(): Pending[] {
    const { maxRecords, maxBytes, strict, maxHeld } = this.limits;
    const blocked = new Set(this.#retry.map((p) => p.key));
    const skipped = new Set<string>();
    const inRequest = new Set<string>();
    const request: Pending[] = [];
    const left: Pending[] = [];
    let bytes = 0;
    let heldCount = 0;
    const decide = (p: Pending): 'take' | 'wait' | 'no-room' => {
      if (skipped.has(p.key)) return 'wait';
      if ((p.attempts === 0 && blocked.has(p.key)) || (strict && inRequest.has(p.key))) return 'wait';
      if (request.length >= maxRecords || bytes + p.size > maxBytes) return 'no-room';
      return 'take';
    };
    const place = (p: Pending, decision: 'take' | 'wait' | 'no-room') => {
      if (decision === 'take') {
        request.push(p);
        bytes += p.size;
        inRequest.add(p.key);
        return;
      }
      // Whatever waits, every later record of its key waits behind it.
      skipped.add(p.key);
      left.push(p);
      if (p.attempts === 0) heldCount++;
    };
    // Earlier records first: those awaiting a retry and those held back, by input position.
    for (const p of [...this.#retry, ...this.#held].sort(byIndex)) place(p, decide(p));
    // Then records not looked at yet, until the request is full or too much waits behind its key.
    while (this.#cursor < this.entries.length && request.length < maxRecords && heldCount < maxHeld) {
      const p = this.entries[this.#cursor] as Pending;
      if (this.#abandoned.has(p.key)) {
        this.#cursor++;
        this.#giveUpBehind(p);
        continue;
      }
      const decision = decide(p);
      if (decision === 'no-room') break;
      this.#cursor++;
      place(p, decision);
    }
    this.#retry = left.filter((p) => p.attempts > 0);
    this.#held = left.filter((p) => p.attempts === 0);
    if (request.length === 0 && !this.done) {
      // Only reachable with limits too small for one record; records are checked against them first.
      throw new ProducerError('SendSchedule: no record fits in a request');
    }
    return request;
  }

  /** The outcome of a request: `failures` by record; the others were acknowledged. */
  settle(request: readonly Pending[], failures: ReadonlyMap<Pending, Failure>): void {
    const abandonedNow: string[] = [];
    for (const p of request) {
      p.attempts++;
      const failure = failures.get(p);
      if (!failure) {
        this.sent++;
      } else if (p.attempts >= this.limits.maxAttempts) {
        this.unsent.push({ index: p.index, errorCode: failure.code, errorMessage: failure.message });
        this.#abandoned.add(p.key);
        abandonedNow.push(p.key);
      } else {
        this.#retry.push(p);
      }
    }
    this.#retry.sort(byIndex);
    if (abandonedNow.length === 0) return;
    const gone = new Set(abandonedNow);
    for (const p of [...this.#retry, ...this.#held].sort(byIndex)) if (gone.has(p.key)) this.#giveUpBehind(p);
    this.#retry = this.#retry.filter((p) => !gone.has(p.key));
    this.#held = this.#held.filter((p) => !gone.has(p.key));
  }

  #giveUpBehind(p: Pending): void {
    this.unsent.push({
      index: p.index,
      errorCode: 'PrecedingRecordUnsent',
      errorMessage: 'not sent: an earlier record with the same partition key could not be sent',
    });
  }
}
