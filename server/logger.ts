// pino JSON logs. Modules take a child logger; ids go in fields, message bodies and tokens never.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level: string; nodeId: string }): Logger {
  return pino({
    level: opts.level,
    base: { node: opts.nodeId },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: even if a payload ends up in a log call, these never get printed.
    redact: {
      paths: ['text', '*.text', '*.*.text', 'token', '*.token', 'auth', '*.auth', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
