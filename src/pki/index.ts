/** The pure ASN.1 room (ARCHITECTURE.md rule 5): everything public from pki/. */
export * from './der.js';
export * from './algorithms.js';
export * from './types.js';
export * from './pem.js';
export * from './name.js';
export * from './extensions.js';
export * from './certificate.js';
export * from './csr.js';
