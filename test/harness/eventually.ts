/**
 * Retries `check` until it returns without throwing, then returns its value; on timeout throws
 * the last error. Use it instead of sleeps: it asserts the state of the world, not timing.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const message = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`Condition not met within ${timeoutMs} ms: ${message}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until `read` (a counter, such as the operator's API write count) has not moved for
 * `quietMs`, and returns its value: where a steady state is measured, it starts only once the
 * work of earlier steps (a deletion a cache has not caught up with, say) has run out.
 */
export async function untilQuiet(
  read: () => Promise<number>,
  options: { quietMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const quietMs = options.quietMs ?? 2_000;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let value = await read();
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = await read();
    if (now === value) return value;
    if (Date.now() > deadline)
      throw new Error(`Still changing after ${options.timeoutMs ?? 60_000} ms (${value} → ${now})`);
    value = now;
  }
}
