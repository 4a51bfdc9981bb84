// The typed wire contract of the gateway (PROTOCOL.md). Imports only zod; shared by the server,
// the tests, the load generator and the web client.
export * from './errors.js';
export * from './events.js';
export * from './schemas/common.js';
export * from './schemas/model.js';
export * from './schemas/events.js';
export * from './schemas/presence.js';
export * from './schemas/rest.js';
