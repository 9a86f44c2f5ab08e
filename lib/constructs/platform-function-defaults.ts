import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { LogLevel, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Permission } from '../permissions.js';

/** Defaults of {@link PlatformFunction}. */
export const PLATFORM_FUNCTION_DEFAULTS = {
  memorySize: 1024,
  timeout: Duration.seconds(30),
  logRetention: logs.RetentionDays.ONE_MONTH,
  removalPolicy: RemovalPolicy.RETAIN,
  logLevel: 'INFO',
  environment: {} as Readonly<Record<string, string>>,
  errorsAlarmThreshold: 1,
  permissions: [] as readonly Permission[],
} as const;

/**
 * How every platform function is bundled: ESM for Node.js 22 with the local esbuild (no Docker),
 * the AWS SDK included so the deployed bundle runs the SDK versions the tests ran.
 */
export const PLATFORM_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  // esbuild's ESM output has no `require`; CommonJS dependencies still call it.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  bundleAwsSDK: true,
  forceDockerBundling: false,
  // esbuild's size table on every synth is noise; warnings and errors still show.
  logLevel: LogLevel.WARNING,
} as const;
