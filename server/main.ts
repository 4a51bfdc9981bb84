// Process entry point: the only reader of process.env. loadConfig → createApp → start →
// shut down on SIGTERM/SIGINT (exit 0 when drained, 1 past the deadline), and on an uncaught
// exception (logged, drained within the same deadline, exit 1: the process state is unknown).
import { createApp } from './app.js';
import { ConfigError, loadConfig, redactUrls } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${redactUrls(err.message)}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(config);
  const log = app.logger.child({ module: 'main' });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  let stopping = false;
  const stop = (reason: string, code: 0 | 1) => {
    if (stopping) return;
    stopping = true;
    app.shutdown(reason).then(
      () => process.exit(code),
      (err: unknown) => {
        log.error({ err }, 'shutdown did not finish in time');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  // Without this, Node prints the stack and exits at once: no log line, no drain, every socket
  // cut. A second one while draining ends the process at once.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: draining, then exiting with 1');
    if (stopping) process.exit(1);
    stop('uncaughtException', 1);
  });
  await app.start();
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${redactUrls(err instanceof Error ? err.message : String(err))}\n`);
  process.exit(1);
});
