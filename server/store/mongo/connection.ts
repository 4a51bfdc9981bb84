// Connection plumbing of the MongoDB adapter: one dedicated mongoose connection per store (never
// the global default one, so several stores live in one process), fail-fast server selection,
// and the one place that decides which errors mean "database unavailable".
import mongoose, { type Connection, type ConnectOptions } from 'mongoose';
import { InvalidArgumentStoreError, StoreUnavailableError } from '../store.js';

export const MONGO_DEFAULTS = Object.freeze({
  serverSelectionTimeoutMs: 2_000, // 2 s: an unreachable database fails fast (readyz, UNAVAILABLE)
  connectTimeoutMs: 2_000, // 2 s: TCP/TLS handshake with a reachable host
});

// Server error codes that mean "try again later": host/network trouble, elections and
// step-downs, shutdowns, timeouts. Everything else (duplicate key, bad value) is ours to handle.
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);
// Driver-side failures: no server selectable, broken socket, pool cleared, client closed.
const UNAVAILABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoWaitQueueTimeoutError',
]);
const UNAVAILABLE_LABELS = ['RetryableWriteError', 'ResetPool', 'SystemOverloadedError'];

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof StoreUnavailableError) return true;
  if (UNAVAILABLE_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && UNAVAILABLE_CODES.has(code)) return true;
  const labels = (err as { errorLabels?: unknown; hasErrorLabel?: (l: string) => boolean }).hasErrorLabel;
  if (typeof labels === 'function' && UNAVAILABLE_LABELS.some((l) => labels.call(err, l))) return true;
  return err.cause !== undefined && isUnavailable(err.cause);
}

/** Duplicate key on a unique index. */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 11000;
}

/**
 * Turns a connection-level failure into StoreUnavailableError and a value mongoose could not cast
 * (an object where an id string belongs: what `sanitizeFilter` turns `{ $ne: … }` into) into
 * InvalidArgumentStoreError; anything else passes through as the bug it is.
 */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || err instanceof InvalidArgumentStoreError) return err;
  if (isUnavailable(err)) {
    return new StoreUnavailableError(`mongodb unavailable: ${(err as Error).message}`, { cause: err });
  }
  if (err instanceof mongoose.Error.CastError) {
    return new InvalidArgumentStoreError(`invalid value for ${err.path}`, { cause: err });
  }
  return err;
}

export interface MongoConnectionOptions {
  url: string;
  serverSelectionTimeoutMs?: number;
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

  constructor(opts: MongoConnectionOptions) {
    this.url = opts.url;
    const selection = opts.serverSelectionTimeoutMs ?? MONGO_DEFAULTS.serverSelectionTimeoutMs;
    this.options = {
      serverSelectionTimeoutMS: selection,
      connectTimeoutMS: Math.min(selection, MONGO_DEFAULTS.connectTimeoutMs),
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

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.opening?.catch(() => {});
      await this.conn.close();
    })();
    return this.closing;
  }
}
