export * from './authority.js';
export * from './issuers.js';
export * from './ports.js';
export * from './ca-setup.js';
export * from './serial.js';
export * from './signature.js';
export * from './revocation-reasons.js';
export * from './templates.js';
