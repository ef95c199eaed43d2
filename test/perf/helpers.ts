// Shared by the perf, trial and routing suites: two sim providers with known, clearly different
// behaviour, and the checks that a measured figure matches what a sim was configured to do.

import assert from 'node:assert/strict';
import type { SimConfig } from '../../adapters/sim/index.js';
import { eventually, type TestGateway } from '../helpers/gateway.js';
import { getCall, must, randomDid } from '../calls/setup.js';

// Calls stay up 400 ms after answer: "answered" and "completed" reports further apart than any
// event-loop lag, so each answer is seen with its setup time.
/** A fast, cheap provider: rings at 100 ms, answered 200 ms later, API answers in 10 ms. */
export const FAST_SIM: SimConfig = { ringAfterMs: 100, answerAfterMs: 200, durationMs: 400, apiLatencyMs: 10 };
/** A slow one: rings at 600 ms, answered 500 ms later, API answers in 250 ms. */
export const SLOW_SIM: SimConfig = { ringAfterMs: 600, answerAfterMs: 500, durationMs: 400, apiLatencyMs: 250 };
/** hangUpAfterMs for trials through them, for the same reason */
export const TRIAL_HOLD_MS = 400;

/**
 * A measured duration matches a configured one: below it by no more than the histogram's
 * resolution (4.4 %) plus 30 ms, and at most `slackMs` above it. Both margins are the machine's:
 * timers fire late, and the "dialing" time is taken when the dial request's continuation runs,
 * which a busy event loop delays while the sim's ring timer is already counting.
 */
export function matchesDelay(actual: number | null, configuredMs: number, what: string, slackMs = 400): void {
  assert.ok(actual !== null, `${what}: no figure`);
  const ms = actual * 1000;
  assert.ok(ms >= configuredMs * 0.95 - 30, `${what}: ${ms} ms is below the configured ${configuredMs} ms`);
  assert.ok(ms <= configuredMs * 1.05 + slackMs, `${what}: ${ms} ms is far above the configured ${configuredMs} ms`);
}

export async function createProvider(gw: TestGateway, key: string, name: string, config: SimConfig, userIds: string[] = []): Promise<string> {
  const r = must(
    await gw.req('POST', '/v1/providers', { key, body: { kind: 'sim', name, config, install: { scope: 'specific', userIds } } }),
    201,
    `install ${name}`,
  );
  return r.body.id;
}

const TERMINAL = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);

export async function waitEnded(gw: TestGateway, key: string, callId: string, timeoutMs = 20_000): Promise<any> {
  return eventually(
    async () => {
      const c = await getCall(gw, key, callId);
      return TERMINAL.has(c.status) ? c : null;
    },
    timeoutMs,
    `call ${callId} to end`,
  );
}

/** One click-to-call by userId to a fresh destination, waited on until it ends. */
export async function callAndWait(gw: TestGateway, key: string, userId: string): Promise<any> {
  const r = must(await gw.req('POST', '/v1/calls', { key, body: { userId, to: randomDid() } }), 201, `call by ${userId}`);
  return waitEnded(gw, key, r.body.id);
}

export function byId(items: any[], id: string): any {
  const row = items.find((i) => i.providerId === id);
  assert.ok(row, `no row for ${id} in ${JSON.stringify(items)}`);
  return row;
}
