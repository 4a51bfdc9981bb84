// Process entry point: the only reader of process.env. loadConfig → createApp → start →
// shut down on SIGTERM/SIGINT (exit 0 when drained, 1 past the deadline).
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
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown did not finish in time');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await app.start();
}

main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${redactUrls(err instanceof Error ? err.message : String(err))}\n`);
  process.exit(1);
});
