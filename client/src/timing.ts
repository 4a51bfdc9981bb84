// Back-off with jitter and timers that never keep a Node process alive on their own.

export interface BackoffOptions {
  /** First delay, ms; doubles per attempt. */
  minMs: number;
  /** Ceiling, ms. */
  maxMs: number;
}

/** "Equal jitter": half the exponential delay fixed, half random, so clients spread out but still wait. */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}

/** setTimeout, unref'd in Node, clamped to the 32-bit limit browsers and Node share. */
export function timer(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(fn, Math.min(Math.max(0, ms), 2_147_483_647));
  (t as { unref?: () => void }).unref?.();
  return t;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => timer(resolve, ms));
