/**
 * Demo traffic for the local platform: card payments with a known share of malformed records,
 * producer retries (same event id, new record), out-of-order and late events, plus the answer
 * the platform must arrive at (counts and the latest values per entity), computed here
 * independently of the processor.
 */
import { upgradeEvent } from '../schemas/contract.js';
import { transaction } from '../schemas/transaction.contract.js';
import { seededRandom } from './seeded-random.js';

export type DemoKind = 'valid' | 'duplicate' | 'malformed' | 'late';

export interface DemoRecord {
  readonly kind: DemoKind;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface DemoPlan {
  readonly records: readonly DemoRecord[];
  /** The valid records' events in the current contract shape, in send order (what the reference replays). */
  readonly events: readonly Record<string, unknown>[];
  readonly quarantined: number;
}

export interface DemoOptions {
  readonly events: number;
  readonly now: number;
  readonly seed?: number;
  readonly customers?: number;
  readonly merchants?: number;
}

const MALFORMED: ((e: Record<string, unknown>) => string)[] = [
  () => '{"contract":"transaction","version":1,"event":{"eventId":', // truncated JSON
  (e) => JSON.stringify({ contract: 'transaction', version: 1, event: { ...e, currency: 'dirham' } }),
  (e) =>
    JSON.stringify({ contract: 'transaction', version: 1, event: { ...e, customerEmail: 'not-an-email' } }),
  (e) => JSON.stringify({ contract: 'transaction', version: 1, event: { ...e, amountMinor: -5 } }),
  (e) => JSON.stringify({ contract: 'transaction', version: 1, event: { ...e, currency: 'JPY' } }), // rule: settled currency
  (e) => JSON.stringify({ contract: 'transaction', version: 2, event: { ...e, amountMinor: 90_000_000 } }), // rule: amount limit
  (e) => JSON.stringify({ contract: 'transaction', version: 3, event: e }), // unregistered version
  (e) => JSON.stringify({ contract: 'refund', version: 1, event: e }),
  (e) => JSON.stringify(e), // no envelope
];

const encode = (s: string) => new TextEncoder().encode(s);

export function planDemoTraffic(options: DemoOptions): DemoPlan {
  const random = seededRandom(options.seed ?? 42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const customers = Array.from(
    { length: options.customers ?? 200 },
    (_, i) => `cus_${String(i).padStart(6, '0')}`,
  );
  const merchants = Array.from(
    { length: options.merchants ?? 40 },
    (_, i) => `mer_${String(i).padStart(5, '0')}`,
  );
  const onTimeSent: {
    version: number;
    payload: Record<string, unknown>;
    current: Record<string, unknown>;
  }[] = [];
  const records: DemoRecord[] = [];
  const events: Record<string, unknown>[] = [];
  let quarantined = 0;

  for (let i = 0; i < options.events; i++) {
    const roll = random();
    const customerId = pick(customers);
    const event: Record<string, unknown> = {
      eventId: `evt_${(options.seed ?? 42).toString(36)}_${i.toString(36).padStart(6, '0')}`,
      customerId,
      merchantId: pick(merchants),
      amountMinor: Math.floor(random() * 500_000),
      currency: pick(['AED', 'AED', 'AED', 'USD', 'EUR', 'SAR']),
      country: pick(['AE', 'AE', 'AE', 'SA', 'GB', 'IN']),
      channel: pick(['pos', 'ecommerce', 'atm', 'wallet']),
      customerEmail: `${customerId}@example.ae`,
      // Out of order within the hour of allowed lateness: up to 30 minutes in the past.
      eventTime: new Date(options.now - Math.floor(random() * 30 * 60_000)).toISOString(),
    };
    if (roll < 0.02 && i > 0) {
      records.push({ kind: 'malformed', partitionKey: customerId, data: encode(pick(MALFORMED)(event)) });
      quarantined++;
    } else if (roll < 0.05 && onTimeSent.length > 0) {
      // A producer retry: the same event again, moments later.
      const original = pick(onTimeSent);
      const envelope = { contract: 'transaction', version: original.version, event: original.payload };
      records.push({
        kind: 'duplicate',
        partitionKey: String(original.payload.customerId),
        data: encode(JSON.stringify(envelope)),
      });
      events.push(original.current);
    } else {
      // Late: hours behind; late indeed once its customer has newer events (the reference decides).
      const late = roll < 0.07;
      if (late)
        event.eventTime = new Date(
          options.now - 3 * 3_600_000 - Math.floor(random() * 3_600_000),
        ).toISOString();
      // Most producers send v2; some still send v1, which the processor upgrades.
      const version = random() < 0.8 ? 2 : 1;
      if (version === 2)
        Object.assign(event, { mcc: pick(['5411', '5812', '5999', '6011']), cardPresent: random() < 0.6 });
      const current = version === 1 ? upgradeEvent(transaction, 1, event) : event;
      const envelope = { contract: 'transaction', version, event };
      records.push({
        kind: late ? 'late' : 'valid',
        partitionKey: customerId,
        data: encode(JSON.stringify(envelope)),
      });
      events.push(current);
      if (!late) onTimeSent.push({ version, payload: event, current });
    }
  }
  return { records, events, quarantined };
}
