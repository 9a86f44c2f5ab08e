/**
 * docs/operations.md has one entry per alarm the app creates, named by the alarm's construct path in
 * its stack, and no entry for an alarm that does not exist: an alarm added or renamed without its
 * runbook entry fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/platform-spec.js';
import { ENVIRONMENTS, pick, synthesizeAll } from './platform-fixture.js';

const all = synthesizeAll({ bundling: false });
const runbook = readFileSync(join(REPO_ROOT, 'docs/operations.md'), 'utf8');
/** The entries: `### \`<path>\`` headings. */
const entries = [...runbook.matchAll(/^### `([^`]+)`$/gm)].map((m) => m[1] as string).sort();

describe.each(ENVIRONMENTS)('operations runbook (%s)', (name) => {
  const { deployment } = pick(all, name);
  const stacks = Object.values(deployment).filter((v): v is Stack => v instanceof Stack);
  const alarms = stacks
    .flatMap((stack) =>
      stack.node
        .findAll()
        .filter((c) => c instanceof cloudwatch.Alarm)
        .map((c) => c.node.path.slice(stack.node.path.length + 1)),
    )
    .sort();

  it('has an entry for every alarm, and none for an alarm that does not exist', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(8);
    expect(entries).toEqual(alarms);
  });
});
