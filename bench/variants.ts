// Benchmark variants: a name, the server environment that differs, and optionally another
// server program or the clients' transports — parsed from one compact command-line spec.
import { OptionsError } from '../loadtest/flags.js';

export interface Variant {
  name: string;
  /** Server environment of this variant. */
  env: Record<string, string>;
  /** Server program instead of the gateway (ENTRY=bench/peer.ts: the hand-rolled peer). */
  entry?: string;
  /** Node flags before the script (NODE_ARGS=--cpu-prof,--cpu-prof-dir=/tmp/p: flags NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Client-side overrides (LT_TRANSPORTS=polling,websocket). */
  transports?: ('websocket' | 'polling')[];
  /** The load's `--mix` for this variant (LT_MIX=edit=5%,react=5%: the same rate with changes in it). */
  mix?: string;
}

/** The default comparison: the gateway, its transport ceiling, and what a team would write instead. */
export const DEFAULT_VARIANTS = 'pipeline;relay:RELAY_MODE=1;peer:ENTRY=bench/peer.ts';

/** `pipeline;relay:RELAY_MODE=1;peer:ENTRY=bench/peer.ts;wc8:WORKER_CONCURRENCY=8 LT_TRANSPORTS=polling,websocket;changes:LT_MIX=edit=5%,react=5%` */
export function parseVariants(spec: string): Variant[] {
  return spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const [name, rest = ''] = part.split(/:(.*)/s) as [string, string?];
      if (!/^[A-Za-z0-9_-]{1,20}$/.test(name)) throw new OptionsError(`--variants: bad name "${name}"`);
      const v: Variant = { name, env: {} };
      for (const kv of rest.split(/\s+/).filter(Boolean)) {
        const eq = kv.indexOf('=');
        if (eq < 1) throw new OptionsError(`--variants: expected KEY=VALUE, got "${kv}"`);
        const key = kv.slice(0, eq);
        const value = kv.slice(eq + 1);
        if (key === 'LT_TRANSPORTS') v.transports = value.split(',') as Variant['transports'];
        else if (key === 'LT_MIX') v.mix = value;
        else if (key === 'ENTRY') v.entry = value;
        else if (key === 'NODE_ARGS') v.nodeArgs = value.split(',').filter(Boolean);
        else v.env[key] = value;
      }
      return v;
    });
}

/** The transport ceiling the others are compared with: the gateway in relay mode. */
export const isRelay = (v: Variant) => !v.entry && (v.env.RELAY_MODE === '1' || v.env.RELAY_MODE === 'true');
/** The hand-rolled peer (bench/peer.ts). */
export const isPeer = (v: Variant) => v.entry === 'bench/peer.ts';
