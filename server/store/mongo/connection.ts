// Connection plumbing of the MongoDB adapter: one dedicated mongoose connection per store (never
// the global default one, so several stores live in one process), fail-fast server selection,
// an overall deadline per operation, and the durability every write and read asks for.
// Which errors mean "database unavailable" is errors.ts.
import mongoose, { type Connection, type ConnectOptions } from 'mongoose';
import { StoreUnavailableError } from '../store.js';
import { toStoreError } from './errors.js';

export const MONGO_DEFAULTS = Object.freeze({
  serverSelectionTimeoutMs: 2_000, // 2 s: an unreachable database fails fast (readyz, UNAVAILABLE)
  connectTimeoutMs: 2_000, // 2 s: TCP/TLS handshake with a reachable host
  // 5 s: how long one operation may wait for the majority, for a pooled connection, and (plus
  // a margin, see `socketTimeoutFor`) for a server that does not answer at all. A lagging majority
  // then fails sends with UNAVAILABLE (appends are idempotent, clients retry) instead of stalling
  // every send on the node behind the in-flight batches.
  operationTimeoutMs: 5_000,
});

/** /readyz turns 503 once the majority is further behind the primary than this share of the deadline. */
const MAJORITY_LAG_SHARE = 0.5;

/**
 * The socket timeout for an operation deadline. mongodb 7.8 (mongoose 9) ignores `timeoutMS`
 * ("timeoutMS has no effect and will be removed in a future release"), so the deadline is built
 * from the per-step timeouts it still honours: `wtimeoutMS` makes the server answer a lagging
 * majority with WriteConcernFailed (code 64) and keep the connection; the socket timeout, a little
 * longer so that answer wins, catches a server that answers nothing (MongoNetworkTimeoutError).
 */
export function socketTimeoutFor(deadlineMs: number): number {
  return deadlineMs + Math.min(1_000, Math.ceil(deadlineMs / 2));
}

/**
 * "Ack after durable store": a write is acknowledged once a majority of the replica set has it in
 * its journal, so a failover cannot roll back an acknowledged message or a handed-out seq. Set
 * here rather than left to the URL or the cluster default (w:1 on a primary–secondary–arbiter set,
 * or after `setDefaultRWConcern`); options given to the client override the URL's.
 */
export const WRITE_CONCERN = Object.freeze({ w: 'majority' as const, journal: true });
/** Reads see only majority-committed data, so sync never returns a message that later rolls back. */
export const READ_CONCERN = Object.freeze({ level: 'majority' as const });

export interface MongoConnectionOptions {
  url: string;
  serverSelectionTimeoutMs?: number;
  /** Deadline of one operation: `wtimeoutMS`, `waitQueueTimeoutMS`, and the socket timeout. */
  operationTimeoutMs?: number;
  /** /readyz is 503 while the majority is this far (ms) behind the primary; half the deadline by default. */
  maxMajorityLagMs?: number;
}

/**
 * A connection that (re)tries its initial connect on use: a node that starts while MongoDB is
 * down answers UNAVAILABLE and recovers when MongoDB comes back, instead of staying broken.
 * Once connected, the driver itself reconnects and fails operations after the selection timeout.
 */
export class MongoConnection {
  readonly conn: Connection;
  private readonly url: string;
  private readonly options: ConnectOptions;
  private opening: Promise<void> | undefined;
  private opened = false;
  private closing: Promise<void> | undefined;
  readonly maxMajorityLagMs: number;

  constructor(opts: MongoConnectionOptions) {
    this.url = opts.url;
    const selection = opts.serverSelectionTimeoutMs ?? MONGO_DEFAULTS.serverSelectionTimeoutMs;
    const deadline = opts.operationTimeoutMs ?? MONGO_DEFAULTS.operationTimeoutMs;
    this.maxMajorityLagMs = opts.maxMajorityLagMs ?? deadline * MAJORITY_LAG_SHARE;
    this.options = {
      serverSelectionTimeoutMS: selection,
      connectTimeoutMS: Math.min(selection, MONGO_DEFAULTS.connectTimeoutMs),
      wtimeoutMS: deadline,
      waitQueueTimeoutMS: deadline,
      socketTimeoutMS: socketTimeoutFor(deadline),
      // The URL's own keys (w, journal, readConcernLevel): an options object of another shape
      // (`writeConcern: {…}`) would lose to `journal=false` or `readConcernLevel=local` in the URL.
      w: WRITE_CONCERN.w,
      journal: WRITE_CONCERN.journal,
      readConcernLevel: READ_CONCERN.level,
      // Without a connection, fail now (UNAVAILABLE) rather than queue operations in memory.
      bufferCommands: false,
      autoIndex: false,
      autoCreate: false,
      sanitizeFilter: true,
    };
    this.conn = mongoose.createConnection();
    // Connection-level errors also surface on the operation that hit them; without a listener
    // an 'error' event would crash the process.
    this.conn.on('error', () => {});
  }

  /** Resolves once connected; StoreUnavailableError when the server cannot be reached. */
  async ready(): Promise<void> {
    if (this.closing) throw new StoreUnavailableError('mongodb store is closed');
    // After the first successful connect the driver owns reconnection; openUri again would
    // create a second client.
    if (this.opened) return;
    this.opening ??= this.conn
      .openUri(this.url, this.options)
      .then(() => {
        this.opened = true;
      })
      .catch(async (err: unknown) => {
        // Release the failed client; the next call starts a fresh attempt. (Not close(true):
        // a force-closed mongoose connection refuses every later operation.)
        await this.conn.close().catch(() => {});
        throw toStoreError(err);
      })
      .finally(() => {
        this.opening = undefined;
      });
    await this.opening;
  }

  /** Runs `fn` once connected, mapping driver errors to store errors. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /**
   * The write and read concern the client applies to every operation, as the driver resolved
   * them from the URL and our options: `init()` refuses to start unless they are the ones above.
   */
  durability(): { w: unknown; journal: unknown; readConcern: unknown } {
    const client = this.conn.getClient();
    return { w: client.writeConcern?.w, journal: client.writeConcern?.journal, readConcern: client.readConcern?.level };
  }

  /** Throws unless writes wait for a journaled majority and reads are majority reads. */
  assertDurable(): void {
    const d = this.durability();
    if (d.w !== WRITE_CONCERN.w || d.journal !== WRITE_CONCERN.journal || d.readConcern !== READ_CONCERN.level) {
      throw new Error(`mongodb: effective write/read concern ${JSON.stringify(d)} is weaker than w:majority, j:true, readConcern majority`);
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.opening?.catch(() => {});
      await this.conn.close();
    })();
    return this.closing;
  }
}
