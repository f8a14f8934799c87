/**
 * Test helpers for waits that must be event-driven.
 *
 * @module
 */

/**
 * Runs `fn` and returns how many timers (`setTimeout`) it, and whatever it
 * started, armed meanwhile: a wait told by an event arms none.
 */
export async function countingTimers(fn: () => Promise<void>): Promise<number> {
  const real = globalThis.setTimeout;
  let armed = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed++;
    return real(...args);
  }) as typeof setTimeout;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = real;
  }
  return armed;
}
