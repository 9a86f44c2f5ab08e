/**
 * `npm start`: the platform on this machine, on embedded AWS stand-ins.
 *
 *   npm start                          demo traffic, then keep serving until Ctrl-C
 *   npm start -- --events 5000 --exit  bounded run; last stdout line is a JSON summary;
 *                                      exit 0 only if every record is accounted for and every lookup matched
 *   options: --events N (default 2000), --seed N, --port N (lookup API port, default free), --exit
 */
import { parseArgs } from 'node:util';
import { runDemo } from '../local/demo-run.js';
import { curlExample, type LocalPlatform, startLocalPlatform } from '../local/platform.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let running: LocalPlatform | undefined;

function options() {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '2000' },
      seed: { type: 'string', default: '42' },
      port: { type: 'string', default: '0' },
      exit: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const int = (name: string, value: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  return {
    events: int('events', values.events, 0, 1_000_000),
    seed: int('seed', values.seed, 0, 2 ** 31),
    port: int('port', values.port, 0, 65_535),
    exit: values.exit,
    help: values.help,
  };
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options();
  } catch (error) {
    console.error(
      `npm start: ${(error as Error).message}\nusage: npm start -- [--events N] [--seed N] [--port N] [--exit]`,
    );
    return 2;
  }
  if (opts.help) {
    console.log('usage: npm start -- [--events N] [--seed N] [--port N] [--exit]');
    return 0;
  }
  const log = (line = '') => console.log(line);
  log('starting Kinesis (kinesalite), DynamoDB (DynamoDB Local) and S3 (s3rver) on 127.0.0.1 ...');
  const platform = await startLocalPlatform({ apiPort: opts.port });
  running = platform;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping the platform ...`);
    await platform.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  log(`platform up: stream ${platform.names.stream}, online table ${platform.names.onlineTable}`);
  log(`sending ${opts.events} demo events (with malformed, duplicated and late ones on purpose) ...`);
  const { summary, lookups } = await runDemo(platform, {
    events: opts.events,
    seed: opts.seed,
    progress: true,
  });

  log();
  log(
    `records: ${summary.events_sent} sent = ${summary.events_applied} applied + ${summary.duplicates} duplicates + ${summary.quarantined} quarantined + ${summary.late} late`,
  );
  log(`expected: ${JSON.stringify(summary.expected)}`);
  log(`lookups: ${summary.lookups_ok} matched, ${summary.lookups_failed} did not`);
  for (const m of lookups.mismatches.slice(0, 10)) log(`  mismatch: ${m}`);
  for (const s of lookups.samples) log(`\nGET ${s.path}\n${JSON.stringify(s.body, null, 2)}`);
  log();
  log(`lookup API:  ${platform.endpoints.api.url}/v1/features/{group}/{entityId}`);
  const samplePath = lookups.samples[0]?.path;
  log(
    `try:         ${samplePath ? curlExample(platform.endpoints.api.url, samplePath, platform.endpoints.region, platform.endpoints.api.roles['consumer-fraud-scoring']) : platform.endpoints.api.example}`,
  );
  log(`endpoints:   ${platform.endpointsFile} (point any AWS SDK producer at the local stream)`);

  if (opts.exit) {
    await platform.stop();
    console.log(JSON.stringify(summary));
    return summary.consistent ? 0 : 1;
  }
  log('\nserving; Ctrl-C to stop');
  return new Promise<number>(() => {});
}

main().then(
  (code) => process.exit(code),
  async (error: Error) => {
    console.error(`npm start failed: ${error.name}: ${error.message}`);
    await running?.stop();
    process.exit(1);
  },
);
