export * from './log.js';
export * from './verify.js';
