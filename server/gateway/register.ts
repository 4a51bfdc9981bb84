// The one way a client event is served: parse the payload with its protocol schema, run the
// handler, answer the ack exactly once with `{ ok: true, ...data }` or the §4 error shape.
// Nothing a client sends can throw out of here or crash the process. The handlers themselves
// live in *.handlers.ts (one file per event family; relay mode is one more family).
import {
  CLIENT_EVENTS,
  CLIENT_EVENT_NAMES,
  type ClientEventName,
  type OkDataOf,
  type ParsedPayloadOf,
} from '../../protocol/index.js';
import { AppError, invalidArgument, toAppError, toWireError } from '../errors.js';
import type { SocketBudget } from '../config.js';
import type { Logger } from '../logger.js';
import type { GatewaySocket } from './types.js';

export interface HandlerContext {
  socket: GatewaySocket;
  userId: string;
  log: Logger;
}

export type EventHandler<E extends ClientEventName> = (ctx: HandlerContext, payload: ParsedPayloadOf<E>) => Promise<OkDataOf<E>>;

export type EventHandlers = { [E in ClientEventName]: EventHandler<E> };

/** §7's defaults; the configured budget comes from config.ts (× RATE_LIMIT_SCALE). */
export const DEFAULT_SOCKET_BUDGET: SocketBudget = { perSecond: 100, burst: 200, maxInFlight: 32, disconnectAfterMs: 10_000 };

export interface HandlerHooks {
  /** Called when an event finishes, with its result code ('OK' or an error code). */
  onResult?: (event: string, code: string, seconds: number) => void;
  /** Tracks in-flight handlers so shutdown can wait for their acks. */
  track?: <T>(work: Promise<T>) => Promise<T>;
  budget?: SocketBudget;
}

type AckFn = (res: unknown) => void;

/**
 * Builds the listeners once per server and returns `attach(socket)`, which adds them to a
 * socket. Socket.IO calls a listener with the socket as `this`, so the listeners are shared by
 * every socket, and one catch-all dispatches to them: a connect costs one pointer store. The per-socket
 * state is the event budget (in a WeakMap) and a logger made only when there is something to
 * log (`loggerOf`).
 */
export function createDispatcher(handlers: EventHandlers, loggerOf: (socket: GatewaySocket) => Logger, hooks: HandlerHooks = {}) {
  const budget = hooks.budget ?? DEFAULT_SOCKET_BUDGET;
  const admissions = new WeakMap<GatewaySocket, Admission>();

  const listeners = new Map(
    CLIENT_EVENT_NAMES.map((event) => {
      const listener = function (this: GatewaySocket, args: unknown[]) {
        const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
        if (refused(this, event, ack)) return;
        const work = run(this, event, args, ack);
        void (hooks.track ? hooks.track(work) : work);
      };
      return [event as string, listener] as const;
    }),
  );

  // The one listener of every socket (a catch-all: one entry per socket instead of a dozen
  // listener slots in each socket's own table). Unknown events that expect an answer get one;
  // others are ignored. Socket.IO calls it before it would emit to named listeners, and only
  // while the socket is connected.
  const onAny = function (this: GatewaySocket, event: unknown, ...args: unknown[]) {
    const listener = typeof event === 'string' ? listeners.get(event) : undefined;
    if (listener) return listener.call(this, args);
    const ack = args[args.length - 1];
    if (refused(this, 'unknown', typeof ack === 'function' ? (ack as AckFn) : undefined)) return;
    if (typeof ack === 'function') {
      (ack as AckFn)({ ok: false, error: toWireError(new AppError('INVALID_ARGUMENT', 'unknown event')) });
    }
    hooks.onResult?.('unknown', 'INVALID_ARGUMENT', 0);
  };

  function admissionOf(socket: GatewaySocket): Admission {
    let admit = admissions.get(socket);
    if (!admit) {
      admit = createAdmission(budget, () => {
        loggerOf(socket).warn('over its event budget too long: disconnected');
        socket.disconnect(true);
      });
      admissions.set(socket, admit);
    }
    return admit;
  }

  /** Takes the event's place in the socket's budget; answers RATE_LIMITED when there is none. */
  function refused(socket: GatewaySocket, event: string, ack: AckFn | undefined): boolean {
    const refusal = admissionOf(socket)();
    if (!refusal) return false;
    try {
      ack?.({ ok: false, error: toWireError(refusal) });
    } catch (err) {
      loggerOf(socket).error({ err, event }, 'ack failed');
    }
    hooks.onResult?.(event, 'RATE_LIMITED', 0);
    return true;
  }

  async function run(socket: GatewaySocket, event: ClientEventName, args: unknown[], ack: AckFn | undefined): Promise<void> {
    const started = process.hrtime.bigint();
    const admit = admissionOf(socket);
    let code = 'OK';
    let answer: unknown;
    admit.started();
    try {
      if (!ack) throw new AppError('INVALID_ARGUMENT', 'an acknowledgement callback is required');
      if (args.length !== 1) throw new AppError('INVALID_ARGUMENT', 'expected exactly one payload argument');
      const parsed = CLIENT_EVENTS[event].payload.safeParse(args[0]);
      if (!parsed.success) throw invalidArgument(parsed.error);
      const handler = handlers[event] as EventHandler<ClientEventName>;
      const data = await handler(contextOf(socket), parsed.data as never);
      answer = { ok: true, ...data };
    } catch (err) {
      const appError = toAppError(err);
      code = appError.code;
      if (appError.code === 'INTERNAL') loggerOf(socket).error({ err: appError.cause ?? appError, event }, 'handler failed');
      else if (appError.code === 'UNAVAILABLE') loggerOf(socket).warn({ err: (appError.cause as Error | undefined)?.message, event }, 'dependency unavailable');
      answer = { ok: false, error: toWireError(appError) };
    } finally {
      // Synchronous up to here for a malformed payload, so a burst of them never piles up.
      admit.finished();
    }
    try {
      ack?.(answer);
    } catch (err) {
      loggerOf(socket).error({ err, event }, 'ack failed');
    }
    hooks.onResult?.(event, code, Number(process.hrtime.bigint() - started) / 1e9);
  }

  function contextOf(socket: GatewaySocket): HandlerContext {
    return {
      socket,
      userId: socket.data.userId,
      get log() {
        return loggerOf(socket);
      },
    };
  }

  return function attach(socket: GatewaySocket): void {
    socket.onAny(onAny);
  };
}

type Admission = ReturnType<typeof createAdmission>;

/**
 * One socket's admission: a token bucket over all events and a bound on handlers in flight.
 * `admit()` returns the refusal to answer, or undefined when the event may run.
 */
export function createAdmission(budget: SocketBudget, onOverTooLong: () => void, now: () => number = Date.now) {
  let tokens = budget.burst;
  let refilledAt = now();
  let inFlight = 0;
  let overSince: number | undefined;
  let lastRefusal = Number.NEGATIVE_INFINITY;
  let gone = false;

  /** A refusal for lack of tokens; a spell of them long enough disconnects. */
  function refuse(t: number, retryAfterMs: number, message: string): AppError {
    lastRefusal = t;
    overSince ??= t;
    if (!gone && t - overSince >= budget.disconnectAfterMs) {
      gone = true;
      onOverTooLong();
    }
    return new AppError('RATE_LIMITED', message, { retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) });
  }

  const admit = (): AppError | undefined => {
    const t = now();
    tokens = Math.min(budget.burst, tokens + ((t - refilledAt) / 1000) * budget.perSecond);
    refilledAt = t;
    if (tokens < 1) return refuse(t, ((1 - tokens) / budget.perSecond) * 1000, 'too many events on this socket');
    // Waiting on slow handlers is not abuse: refused, but not counted towards a disconnect.
    if (inFlight >= budget.maxInFlight) return new AppError('RATE_LIMITED', 'too many events in flight on this socket', { retryAfterMs: 50 });
    tokens -= 1;
    // A second without a refusal ends an over-budget spell.
    if (t - lastRefusal > 1000) overSince = undefined;
    return undefined;
  };
  return Object.assign(admit, {
    started: () => void inFlight++,
    finished: () => void inFlight--,
  });
}
