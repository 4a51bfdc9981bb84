// Benchmark variants: a name, the server environment that differs, and optionally the
// clients' transports — parsed from one compact command-line spec.

export interface Variant {
  name: string;
  /** Server environment of this variant. */
  env: Record<string, string>;
  /** Client-side overrides (LT_TRANSPORTS=polling,websocket). */
  transports?: ('websocket' | 'polling')[];
}

/** `pipeline;relay:RELAY_MODE=1;wc8:WORKER_CONCURRENCY=8 LT_TRANSPORTS=polling,websocket` */
export function parseVariants(spec: string): Variant[] {
  return spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const [name, rest = ''] = part.split(/:(.*)/s) as [string, string?];
      if (!/^[A-Za-z0-9_-]{1,20}$/.test(name)) throw new Error(`--variants: bad name "${name}"`);
      const env: Record<string, string> = {};
      let transports: Variant['transports'];
      for (const kv of rest.split(/\s+/).filter(Boolean)) {
        const eq = kv.indexOf('=');
        if (eq < 1) throw new Error(`--variants: expected KEY=VALUE, got "${kv}"`);
        const key = kv.slice(0, eq);
        const value = kv.slice(eq + 1);
        if (key === 'LT_TRANSPORTS') transports = value.split(',') as Variant['transports'];
        else env[key] = value;
      }
      return { name, env, ...(transports ? { transports } : {}) };
    });
}
