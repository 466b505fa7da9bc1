import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `check` until it is true (a check that throws counts as false); fails after
 * `timeoutMs` with `what` in the message. For things that happen soon but not at once:
 * a notification reaching another instance, a service coming back.
 */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    await delay(everyMs);
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}
