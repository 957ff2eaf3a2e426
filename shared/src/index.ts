export * from './routes.js';
export * from './errors.js';
export * from './claims.js';
export * from './messages.js';
export * from './events.js';
export * from './admin.js';
