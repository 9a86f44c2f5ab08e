/**
 * What `npm run redrive` sends for parked entries of an in-memory side output: each entry's bytes
 * wrapped in a completion envelope naming it, as a new record of one shard.
 */
import type { InMemorySideOutput } from '../../lambdas/adapters/memory.js';
import type { InputRecord } from '../../lambdas/core/decode.js';
import { completionEnvelope } from '../../offline/redrive/redrive.js';

interface CopyOptions {
  readonly arrivalTime: number;
  /** @default 'shardId-000000000000' */
  readonly shardId?: string;
}

/** The copy of the entry under `key` (which must exist) as record `sequenceNumber`. */
export function redriveCopy(
  side: InMemorySideOutput,
  key: string,
  options: CopyOptions & { readonly sequenceNumber: bigint },
): InputRecord {
  const e = side.entries.get(key);
  if (!e) throw new Error(`no entry ${key}`);
  const shardId = options.shardId ?? 'shardId-000000000000';
  const sequenceNumber = String(options.sequenceNumber);
  return {
    recordId: `${shardId}:${sequenceNumber}`,
    shardId,
    sequenceNumber,
    partitionKey: e.partitionKey,
    arrivalTime: options.arrivalTime,
    data: Buffer.from(completionEnvelope(key, Buffer.from(e.data, 'base64'))).toString('base64'),
  };
}

/** The keys of the entries now in parked/, in the side output's order. */
export const parkedKeys = (side: InMemorySideOutput): string[] =>
  [...side.entries].filter(([, e]) => e.kind === 'parked').map(([key]) => key);

/** Copies of every entry now in parked/, in the side output's order, numbered from `firstSequence` by 10. */
export const redriveCopies = (
  side: InMemorySideOutput,
  options: CopyOptions & { readonly firstSequence: bigint },
): InputRecord[] =>
  parkedKeys(side).map((key, i) =>
    redriveCopy(side, key, { ...options, sequenceNumber: options.firstSequence + BigInt(i) * 10n }),
  );

/** `redriveCopies` whose sequence numbers go on from one call to the next (a redrive run again). */
export function redriver(
  firstSequence = 49_700_000_000_000_000_000_000_000_000_000_000_000_000_010n,
): (side: InMemorySideOutput, arrivalTime: number) => InputRecord[] {
  let next = firstSequence;
  return (side, arrivalTime) => {
    const copies = redriveCopies(side, { arrivalTime, firstSequence: next });
    next += BigInt(copies.length) * 10n;
    return copies;
  };
}
