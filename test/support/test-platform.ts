/** The local platform on the shared stand-ins, for integration tests: unique names, a temp state dir. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { expect } from 'vitest';
import { type LocalPlatform, type LocalPlatformOptions, startLocalPlatform } from '../../local/platform.js';
import type { StandInEndpoints } from '../../local/stand-ins.js';
import { uniquePrefix } from './resources.js';

export const startTestPlatform = (
  standIns: StandInEndpoints,
  label: string,
  options: Partial<LocalPlatformOptions> = {},
): Promise<LocalPlatform> =>
  startLocalPlatform({
    prefix: uniquePrefix(label),
    standIns,
    stateDir: mkdtempSync(join(tmpdir(), 'fp-state-')),
    shardCount: 2,
    streamSource: { maxBatchingWindowMs: 50 },
    ...options,
  });

/** Puts the records on the platform's stream and waits until the processor has handled them. */
export async function putAndDrain(
  kinesis: KinesisClient,
  platform: LocalPlatform,
  events: readonly { partitionKey: string; payload: string }[],
): Promise<void> {
  const out = await kinesis.send(
    new PutRecordsCommand({
      StreamName: platform.names.stream,
      Records: events.map((e) => ({
        PartitionKey: e.partitionKey,
        Data: new TextEncoder().encode(e.payload),
      })),
    }),
  );
  expect(out.FailedRecordCount).toBe(0);
  await platform.eventSourceMapping.drain(30_000);
}
