// Waiting on a condition with a deadline: the only way these tests wait.
// The poll interval is short and fixed; the deadline is generous, and a
// timeout says what it was waiting for and what it last saw.

/**
 * Resolves once `condition()` (sync or async) returns a truthy value, which
 * it returns; rejects after `timeoutMs` with `what` and the last `describe()`.
 */
export async function waitUntil(condition, what, timeoutMs = 30_000, describe = undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      const seen = describe ? `; last seen: ${await describe()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
