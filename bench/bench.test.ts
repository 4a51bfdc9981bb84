// Pure parts of the benchmark: the variant spec and the ratios it reports.
import { describe, expect, it } from 'vitest';
import { OptionsError } from '../loadtest/flags.js';
import { renderMarkdown, type RunMetrics, type Summary } from './results.js';
import { isPeer, isRelay, parseVariants } from './variants.js';

describe('variants', () => {
  it('parses server env, another server program and client transports', () => {
    expect(parseVariants('pipeline;relay:RELAY_MODE=1;peer:ENTRY=bench/peer.ts;poll:WORKER_CONCURRENCY=8 LT_TRANSPORTS=polling,websocket;prof:NODE_ARGS=--cpu-prof,--cpu-prof-dir=/tmp/p')).toEqual([
      { name: 'pipeline', env: {} },
      { name: 'relay', env: { RELAY_MODE: '1' } },
      { name: 'peer', env: {}, entry: 'bench/peer.ts' },
      { name: 'poll', env: { WORKER_CONCURRENCY: '8' }, transports: ['polling', 'websocket'] },
      { name: 'prof', env: {}, nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/p'] },
    ]);
    expect(() => parseVariants('bad name')).toThrow(OptionsError);
    expect(() => parseVariants('x:NOVALUE')).toThrow(OptionsError);
  });

  it('recognises the relay and the peer', () => {
    const [pipeline, relay, peer] = parseVariants('pipeline;relay:RELAY_MODE=1;peer:ENTRY=bench/peer.ts');
    expect([isRelay(pipeline!), isRelay(relay!), isRelay(peer!)]).toEqual([false, true, false]);
    expect([isPeer(pipeline!), isPeer(relay!), isPeer(peer!)]).toEqual([false, false, true]);
  });
});

describe('results', () => {
  const m = (o: Partial<RunMetrics>): RunMetrics => ({
    acceptedPerSec: 100,
    deliveriesPerSec: 500,
    ackP50: 1,
    ackP99: 4,
    deliverP50: 2,
    deliverP99: 8,
    deliverP999: 9,
    lossRatio: 0,
    storedDuplicates: 0,
    errors: 0,
    gatewayLagP99Ms: 1,
    gatewayRssMb: 100,
    generatorCpuPercent: 50,
    gatewayCpuMsPerSend: 1,
    dbCpuMsPerSend: 0.1,
    sustainableRate: 1_000,
    ...o,
  });
  const s = (spec: string, median: RunMetrics): Summary => ({ variant: parseVariants(spec)[0]!, runs: [median], median });

  it('reports each variant against the relay and against the peer: rate, CPU per send, ack and deliver p99', () => {
    const pipeline = s('pipeline', m({ sustainableRate: 700, gatewayCpuMsPerSend: 3, ackP99: 20, deliverP99: 80 }));
    const relay = s('relay:RELAY_MODE=1', m({ sustainableRate: 1_000, gatewayCpuMsPerSend: 1.5, ackP99: 5, deliverP99: 10 }));
    const peer = s('peer:ENTRY=bench/peer.ts', m({ sustainableRate: 1_400, gatewayCpuMsPerSend: 2, ackP99: 10, deliverP99: 40 }));
    const md = renderMarkdown([pipeline, relay, peer], relay, peer, { scenario: 'ramp', runs: 1, nodes: 1, machine: 'test', load: {} });
    expect(md).toContain('- pipeline/relay: sustainable rate 0.70, accepted 1.00, gateway CPU per send ×2.00, send→ack p99 ×4.00, send→deliver p99 ×8.00');
    expect(md).toContain('- pipeline/peer: sustainable rate 0.50, accepted 1.00, gateway CPU per send ×1.50, send→ack p99 ×2.00, send→deliver p99 ×2.00');
    expect(md).toContain('- peer/relay: sustainable rate 1.40');
    expect(md).not.toContain('- relay/peer');
    expect(md).toMatch(/^\| peer \| 1400 \|/m);
  });
});
