/**
 * An event checked against its contract before it is sent: the same checks and the same reasons as
 * the processor's (lambdas/core/decode.ts), so a producer learns at once what would be quarantined.
 * Reasons name fields and rules, never values (which may be PII).
 */
import type { z } from 'zod';
import type { EventContract } from '../../schemas/contract.js';

export type Checked =
  | { readonly ok: true; readonly event: Record<string, unknown> }
  | { readonly ok: false; readonly reasons: string[] };

const MAX_REASONS = 20;

const describe = (issue: z.core.$ZodIssue): string =>
  `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`;

/** `now`: the time the event is sent, for the contract's future-skew limit (epoch ms). */
export function checkEvent(contract: EventContract, event: unknown, now: number): Checked {
  const parsed = contract.schema.safeParse(event);
  if (!parsed.success) return { ok: false, reasons: parsed.error.issues.slice(0, MAX_REASONS).map(describe) };
  const fields = parsed.data as Record<string, unknown>;
  const reasons: string[] = [];
  for (const rule of contract.rules) {
    if (!rule.check(fields)) reasons.push(`data quality rule "${rule.name}" failed: ${rule.description}`);
  }
  const eventTime = Date.parse(String(fields[contract.eventTimeField]));
  if (eventTime > now + contract.maxFutureSkewMs) {
    reasons.push(
      `${contract.eventTimeField} is more than ${contract.maxFutureSkewMs / 60_000} minutes in the future`,
    );
  }
  return reasons.length ? { ok: false, reasons } : { ok: true, event: fields };
}
