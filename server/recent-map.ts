/**
 * A map that forgets entries between `ttlMs` and 2 × `ttlMs` after they were set: two
 * generations, the older dropped whole on rotation, so memory stays bounded by the write rate.
 */
export function createRecentMap<V>(ttlMs: number) {
  let current = new Map<string, V>();
  let previous = new Map<string, V>();
  let rotatedAt = Date.now();
  function rotate(): void {
    if (Date.now() - rotatedAt < ttlMs) return;
    previous = current;
    current = new Map();
    rotatedAt = Date.now();
  }
  return {
    set(key: string, value: V): void {
      rotate();
      current.set(key, value);
    },
    get(key: string): V | undefined {
      rotate();
      return current.get(key) ?? previous.get(key);
    },
    /** Removes and returns the entry. */
    take(key: string): V | undefined {
      const value = this.get(key);
      current.delete(key);
      previous.delete(key);
      return value;
    },
  };
}
