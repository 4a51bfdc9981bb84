// Typed socket.io-client connections and event-driven waiting (no sleeps).
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../protocol/index.js';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectError extends Error {
  data?: { code?: string; message?: string; retryAfterMs?: number };
}

/** Opens a socket and resolves once connected; rejects with the connect_error. */
export function connectClient(url: string, token: string | undefined, opts: { extraHeaders?: Record<string, string> } = {}): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: 10_000,
    ...(opts.extraHeaders ? { extraHeaders: opts.extraHeaders } : {}),
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err: ConnectError) => {
      socket.close();
      reject(err);
    });
  });
}

/** Records every payload of one event on a socket. */
export function record<E extends keyof ServerToClientEvents>(socket: ClientSocket, event: E) {
  const items: Parameters<ServerToClientEvents[E]>[0][] = [];
  const waiters = new Set<() => void>();
  socket.on(event, ((data: Parameters<ServerToClientEvents[E]>[0]) => {
    items.push(data);
    for (const w of [...waiters]) w();
  }) as never);
  return {
    items,
    /** Resolves when `predicate(items)` holds, re-checked on every new event. */
    until(predicate: (items: Parameters<ServerToClientEvents[E]>[0][]) => boolean, timeoutMs = 10_000): Promise<void> {
      if (predicate(items)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${String(event)} (have ${items.length})`));
        }, timeoutMs);
        const check = () => {
          if (!predicate(items)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
  };
}

/** Resolves with the next occurrence of an event. */
export function nextEvent<E extends keyof ServerToClientEvents>(socket: ClientSocket, event: E, timeoutMs = 10_000): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(event)}`)), timeoutMs);
    socket.once(event, ((data: Parameters<ServerToClientEvents[E]>[0]) => {
      clearTimeout(timer);
      resolve(data);
    }) as never);
  });
}

/** Resolves when the socket disconnects, with the reason. */
export function disconnected(socket: ClientSocket, timeoutMs = 10_000): Promise<string> {
  if (socket.disconnected) return Promise.resolve('already');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for disconnect')), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}
