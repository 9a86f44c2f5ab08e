/**
 * `npm run produce`: a file of events through the FeatureEventProducer to a stream.
 *
 *   npm run produce -- --file events.jsonl                    to the local platform (`npm start`),
 *                                                             found through .local/endpoints.json
 *   npm run produce -- --file events.csv --stream NAME [--region R]
 *                                                             to a deployed stream, default AWS credentials
 *   options: --contract NAME (default transaction), --endpoints FILE, --rejects FILE
 *            (default <file>.rejects.jsonl: one JSON line per invalid row {line, reasons, row})
 *
 * Formats: .jsonl/.ndjson, .csv (header row; cells typed by the contract), .parquet.
 * Exit: 0 when every valid row was sent (invalid ones are in the rejects file), 1 when a valid row
 * could not be sent (rerunning the file is safe: event ids dedupe), 2 for a usage error.
 * The last stdout line is a JSON summary.
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SingleBar } from 'cli-progress';
import { FeatureEventProducer, ProducerError } from '../clients/feature-event-producer.js';
import { jsonSafe } from '../clients/producer/coerce.js';
import { InputFileError, UsageError } from '../clients/producer/errors.js';
import { ingestFile } from '../clients/producer/ingest-file.js';
import { formatOf } from '../clients/producer/read-rows.js';
import type { LocalEndpoints } from '../local/platform.js';
import { contracts } from '../schemas/index.js';

const USAGE =
  'usage: npm run produce -- --file events.{jsonl,csv,parquet} [--stream NAME] [--region R] ' +
  '[--contract NAME] [--endpoints .local/endpoints.json] [--rejects FILE]';

interface Options {
  readonly file: string;
  readonly contract: string;
  readonly stream?: string;
  readonly region?: string;
  readonly endpoints?: string;
  readonly rejects: string;
  readonly help: boolean;
}

function options(argv: readonly string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        file: { type: 'string' },
        stream: { type: 'string' },
        region: { type: 'string' },
        contract: { type: 'string', default: 'transaction' },
        endpoints: { type: 'string' },
        rejects: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const file = values.file as string | undefined;
  if (values.help) return { file: '', contract: '', rejects: '', help: true };
  if (!file) throw new UsageError('--file is required');
  formatOf(file);
  if (values.region && !values.stream)
    throw new UsageError('--region goes with --stream (a deployed stream)');
  if (values.region && values.endpoints)
    throw new UsageError('--region is for a deployed stream, not --endpoints');
  return {
    file,
    contract: values.contract as string,
    stream: values.stream as string | undefined,
    region: values.region as string | undefined,
    endpoints: values.endpoints as string | undefined,
    rejects: (values.rejects as string | undefined) ?? `${file}.rejects.jsonl`,
    help: false,
  };
}

/** The local platform's stream (endpoints file) unless only --stream names a deployed one. */
function target(opts: Options): { kinesis: KinesisClient; streamName: string; where: string } {
  if (opts.stream && !opts.endpoints) {
    return {
      kinesis: new KinesisClient(opts.region ? { region: opts.region } : {}),
      streamName: opts.stream,
      where: `stream ${opts.stream}${opts.region ? ` in ${opts.region}` : ''}`,
    };
  }
  const path = resolve(opts.endpoints ?? '.local/endpoints.json');
  if (!existsSync(path)) {
    throw new UsageError(
      `${path} not found: start the local platform with \`npm start\`, or name a deployed stream with --stream`,
    );
  }
  let endpoints: LocalEndpoints;
  try {
    endpoints = JSON.parse(readFileSync(path, 'utf8')) as LocalEndpoints;
  } catch {
    throw new UsageError(`${path} is not an endpoints file written by \`npm start\``);
  }
  if (!endpoints.kinesis?.endpoint || !endpoints.kinesis.streamName) {
    throw new UsageError(`${path} names no Kinesis endpoint and stream`);
  }
  const streamName = opts.stream ?? endpoints.kinesis.streamName;
  return {
    kinesis: new KinesisClient({
      region: endpoints.region,
      endpoint: endpoints.kinesis.endpoint,
      credentials: { ...endpoints.credentials },
      requestHandler: new NodeHttpHandler(),
    }),
    streamName,
    where: `local stream ${streamName} (${endpoints.kinesis.endpoint})`,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let opts: Options;
  let destination: ReturnType<typeof target>;
  try {
    opts = options(argv);
    if (opts.help) {
      console.log(USAGE);
      return 0;
    }
    if (!contracts.has(opts.contract)) {
      throw new UsageError(
        `unknown contract "${opts.contract}" (known: ${[...contracts.keys()].join(', ')})`,
      );
    }
    destination = target(opts);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof InputFileError)) throw error;
    console.error(`produce: ${error.message}\n${USAGE}`);
    return 2;
  }
  const started = performance.now();
  const producer = new FeatureEventProducer({
    kinesis: destination.kinesis,
    streamName: destination.streamName,
    contract: contracts.get(opts.contract) as NonNullable<ReturnType<typeof contracts.get>>,
  });
  const bar = new SingleBar({
    format: 'producing [{bar}] {value}/{total} rows',
    hideCursor: true,
    clearOnComplete: false,
  });
  console.error(`produce: ${opts.file} -> ${destination.where}`);
  try {
    const result = await ingestFile(opts.file, producer, {
      onRead: (rows) => bar.start(rows, 0),
      onProgress: (p) => bar.update(p.sent + p.rejected + p.unsent),
    });
    bar.stop();
    writeFileSync(opts.rejects, result.rejects.map((r) => `${JSON.stringify(r, jsonSafe)}\n`).join(''));
    const summary = {
      file: opts.file,
      stream: destination.streamName,
      read: result.read,
      sent: result.sent,
      rejected: result.rejects.length,
      unsent: result.unsent.length,
      seconds: Math.round((performance.now() - started) / 10) / 100,
      rejects_file: opts.rejects,
    };
    console.log(
      `rows: ${summary.read} read = ${summary.sent} sent + ${summary.rejected} rejected + ${summary.unsent} unsent, in ${summary.seconds} s`,
    );
    if (summary.rejected > 0) console.log(`rejects: ${opts.rejects} (line, reasons, row)`);
    for (const u of result.unsent.slice(0, 10)) console.error(`  unsent: line ${u.line} (${u.errorCode})`);
    if (summary.unsent > 0) {
      console.error('some valid rows were not sent; running the same file again is safe (event ids dedupe)');
    }
    console.log(JSON.stringify(summary));
    return summary.unsent === 0 ? 0 : 1;
  } catch (error) {
    bar.stop();
    if (error instanceof InputFileError) {
      console.error(`produce: ${error.message}`);
      return 2;
    }
    if (error instanceof ProducerError) {
      console.error(`produce: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    destination.kinesis.destroy();
  }
}

const invokedDirectly = () => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (invokedDirectly()) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`produce failed: ${error.name}: ${error.message}`);
      process.exit(1);
    },
  );
}
