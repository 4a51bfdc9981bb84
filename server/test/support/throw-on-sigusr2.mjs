// Preloaded (node --import) by start.int.test.ts: SIGUSR2 throws from an event listener, an
// exception nothing catches, as a bug in a dependency's callback would.
process.on('SIGUSR2', () => {
  throw new Error('boom: thrown where nothing catches it');
});
