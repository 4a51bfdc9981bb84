// WebSocket upgrades handed to engine.io a few at a time, so a reconnect storm cannot hold the
// event loop. Node reads every upgrade request that arrived in one poll phase and emits them
// all at once; engine.io then answers each with a 101 and an open packet. During a storm that
// is hundreds of handshakes in one turn, and their writes flushed together in the next one
// (263 ms in one task on node B, BENCHMARKS.md "connections at scale"). Here the requests wait
// in arrival order and each turn of the event loop takes a share of them, after flushing the
// previous turn's answers. The share follows the length of the loop's turns (all of the node's
// work, not only this): it halves when a turn took longer than `turnTargetMs` and grows by an
// eighth when it did not. So a node with nothing else to do takes upgrades as fast as it can,
// and one whose earlier handshakes are still under way (their CONNECT, rate limit and room
// reads) lets those finish first instead of starting ever more: the clients taken first are
// also back first, and timers keep running. (engine.io does most of an upgrade's work in a
// nextTick after it is called, so a budget timed around the calls alone would not see it.)
//
// Each taken socket is corked until the next turn: the upgrade's 101 response and engine.io's
// open packet (sent a few microtasks later) leave in one write instead of two (on this machine
// a loopback write costs more than the rest of a connect's work on the socket).
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface UpgradeGateOptions {
  /** A turn of the event loop longer than this halves the upgrades taken per turn, ms. */
  turnTargetMs?: number;
}

/** Default turn target, ms: well under the event-loop lag a storm may cost (p99 < 100 ms). */
export const UPGRADE_TURN_TARGET_MS = 25;
/** Upgrades taken in the first turn after a quiet spell. */
const FIRST_SHARE = 8;
/**
 * At most in any turn: what a share costs shows only a turn or two later (the clients' CONNECT,
 * their rate-limit and room-id batches), so the share is capped where that stays bounded: 64
 * upgrades and their flushed answers are ~45 ms of CPU here, and a node takes ~1,300 a second.
 */
const MAX_SHARE = 64;

/**
 * Moves every `upgrade` listener now on `server` (engine.io's) behind one queue. Call after the
 * Socket.IO server is attached. Returns how many upgrades wait (for tests and metrics).
 */
export function gateUpgrades(server: HttpServer, opts: UpgradeGateOptions = {}): { waiting(): number } {
  const target = opts.turnTargetMs ?? UPGRADE_TURN_TARGET_MS;
  const listeners = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');

  let queue: { req: IncomingMessage; socket: Duplex; head: Buffer }[] = [];
  let next = 0;
  let corked: Duplex[] = [];
  let scheduled = false;
  let share = FIRST_SHARE;
  /** When the previous turn started (undefined: there was none in the last loop turn). */
  let last: number | undefined;

  function turn(): void {
    const now = performance.now();
    if (last !== undefined) share = now - last > target ? Math.max(1, share >> 1) : Math.min(MAX_SHARE, share + (share >> 3) + 1);
    last = now;
    const flushing = corked;
    corked = [];
    for (const socket of flushing) uncork(socket);
    let taken = 0;
    while (next < queue.length && taken < share) {
      const { req, socket, head } = queue[next]!;
      queue[next++] = undefined as never;
      socket.off('error', destroyOnError);
      if (socket.destroyed) continue;
      taken++;
      socket.cork();
      // A refused upgrade writes its 400 and destroys the socket at once: flush before that.
      socket.destroy = flushThenDestroy;
      corked.push(socket);
      for (const listener of listeners) listener.call(server, req, socket, head);
    }
    if (next === queue.length) {
      queue = [];
      next = 0;
    }
    scheduled = next < queue.length || corked.length > 0;
    if (scheduled) setImmediate(turn);
    else {
      last = undefined;
      share = FIRST_SHARE;
    }
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node removed its own error listener when it handed the socket over; one must be there
    // while it waits (a reset connection would otherwise throw).
    socket.on('error', destroyOnError);
    queue.push({ req, socket, head });
    if (!scheduled) {
      scheduled = true;
      setImmediate(turn);
    }
  });
  return { waiting: () => queue.length - next };
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}

function uncork(socket: Duplex): void {
  if (Object.hasOwn(socket, 'destroy')) delete (socket as Partial<Duplex>).destroy;
  socket.uncork();
}

function flushThenDestroy(this: Duplex, err?: Error): Duplex {
  uncork(this);
  return this.destroy(err);
}
