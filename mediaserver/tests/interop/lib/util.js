// Small helpers shared by the tests.

/** Rejects if `promise` does not settle within `ms` (openvidu-node-client 2.22 can leave promises pending forever). */
export function within(promise, ms, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** Resolves to the rejection reason of `promise`; fails if it resolves. */
export async function rejection(promise, what) {
  try {
    const v = await promise;
    throw Object.assign(new Error(`${what}: expected a rejection, got ${JSON.stringify(v, safeReplacer())}`), { unexpected: true });
  } catch (e) {
    if (e && e.unexpected) throw e;
    return e;
  }
}

function safeReplacer() {
  const seen = new WeakSet();
  return (k, v) => {
    if (k === 'ov') return undefined;
    if (v && typeof v === 'object') {
      if (seen.has(v)) return undefined;
      seen.add(v);
    }
    return v;
  };
}

/** A short unique suffix for custom session ids. */
export function uniq() {
  return Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
}

/**
 * openvidu-node-client prints every fetch with console.log (2.22 cannot be told not to); drop
 * those info lines so that the test report stays readable. console.error/warn are kept.
 */
export function quietLibraryLogs() {
  if (process.env.INTEROP_VERBOSE) return;
  console.log = () => {};
  console.info = () => {};
}

/**
 * Adds diagnostics to a failure. AssertionError formats its stack when it is created, so the
 * text goes to both `message` and `stack` (the reporter prints the stack).
 */
export function appendToError(e, extra) {
  if (!e || typeof e !== 'object') return;
  e.message = String(e.message) + extra;
  if (typeof e.stack === 'string' && !e.stack.includes(extra)) e.stack += extra;
}
