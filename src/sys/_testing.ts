/**
 * Test helpers for waits that must be event-driven.
 *
 * @module
 */

/**
 * Runs `fn` and returns how many timers (`setTimeout`, `setInterval`) it,
 * and whatever it started, armed meanwhile: a wait told by an event arms
 * none.
 */
export async function countingTimers(fn: () => Promise<void>): Promise<number> {
  const { setTimeout: timeout, setInterval: interval } = globalThis;
  let armed = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed++;
    return timeout(...args);
  }) as typeof setTimeout;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    armed++;
    return interval(...args);
  }) as typeof setInterval;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = timeout;
    globalThis.setInterval = interval;
  }
  return armed;
}
