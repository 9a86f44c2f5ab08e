/** Runs one of the repository's CLIs (`bin/<name>.ts`) as `npm run` does, for integration tests. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../lib/platform-spec.js';

const run = promisify(execFile);

/**
 * The CLI's report: the last line of its stdout, as JSON. A non-zero exit rejects with the child's
 * `code` and `stderr`.
 */
export async function runCli<T>(script: string, args: readonly string[]): Promise<T> {
  const { stdout } = await run(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', `bin/${script}.ts`, ...args],
    { cwd: REPO_ROOT, env: process.env },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as T;
}
