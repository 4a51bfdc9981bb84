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
import type { Logger } from '../logger.js';
import type { GatewaySocket } from './types.js';

export interface HandlerContext {
  socket: GatewaySocket;
  userId: string;
  log: Logger;
}

export type EventHandler<E extends ClientEventName> = (ctx: HandlerContext, payload: ParsedPayloadOf<E>) => Promise<OkDataOf<E>>;

export type EventHandlers = { [E in ClientEventName]: EventHandler<E> };

export interface HandlerHooks {
  /** Called when an event finishes, with its result code ('OK' or an error code). */
  onResult?: (event: string, code: string, seconds: number) => void;
  /** Tracks in-flight handlers so shutdown can wait for their acks. */
  track?: <T>(work: Promise<T>) => Promise<T>;
}

type AckFn = (res: unknown) => void;

export function registerHandlers(socket: GatewaySocket, handlers: EventHandlers, log: Logger, hooks: HandlerHooks = {}): void {
  const known = new Set<string>(CLIENT_EVENT_NAMES);

  for (const event of CLIENT_EVENT_NAMES) {
    socket.on(event, (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
      const work = run(event, args, ack);
      void (hooks.track ? hooks.track(work) : work);
    });
  }

  // Unknown events that expect an answer get one; others are ignored.
  socket.onAny((event: unknown, ...args: unknown[]) => {
    if (typeof event === 'string' && known.has(event)) return;
    const ack = args[args.length - 1];
    if (typeof ack === 'function') {
      (ack as AckFn)({ ok: false, error: toWireError(new AppError('INVALID_ARGUMENT', 'unknown event')) });
    }
    hooks.onResult?.('unknown', 'INVALID_ARGUMENT', 0);
  });

  async function run(event: ClientEventName, args: unknown[], ack: AckFn | undefined): Promise<void> {
    const started = process.hrtime.bigint();
    let code = 'OK';
    let answer: unknown;
    try {
      if (!ack) throw new AppError('INVALID_ARGUMENT', 'an acknowledgement callback is required');
      if (args.length !== 1) throw new AppError('INVALID_ARGUMENT', 'expected exactly one payload argument');
      const parsed = CLIENT_EVENTS[event].payload.safeParse(args[0]);
      if (!parsed.success) throw invalidArgument(parsed.error);
      const handler = handlers[event] as EventHandler<ClientEventName>;
      const data = await handler({ socket, userId: socket.data.userId, log }, parsed.data as never);
      answer = { ok: true, ...data };
    } catch (err) {
      const appError = toAppError(err);
      code = appError.code;
      if (appError.code === 'INTERNAL') log.error({ err: appError.cause ?? appError, event }, 'handler failed');
      else if (appError.code === 'UNAVAILABLE') log.warn({ err: (appError.cause as Error | undefined)?.message, event }, 'dependency unavailable');
      answer = { ok: false, error: toWireError(appError) };
    }
    try {
      ack?.(answer);
    } catch (err) {
      log.error({ err, event }, 'ack failed');
    }
    hooks.onResult?.(event, code, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
