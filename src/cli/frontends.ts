/**
 * Protocol front-ends and background services wired into `serve`. Each protocol room exposes a
 * factory `(rt, opts) => Frontend` from its own `mount.ts`; add one line per protocol here.
 */
import type { Mount } from '../http/apps.js';
import type { FastHandler } from '../http/server.js';
import type { Runtime } from './runtime.js';
import { revocationFrontend } from '../revocation/mount.js';
import type { ServeOptions } from './serve.js';
import { estFrontend } from '../protocols/est/mount.js';
import { acmeFrontend } from '../protocols/acme/mount.js';
import { scepFrontend } from '../protocols/scep/mount.js';
import { adminFrontend } from './admin.js';

export interface Frontend {
  name: string;
  mounts: Mount[];
  /** Plain node:http handlers tried before express on the HTTP listener (hot paths, e.g. OCSP). */
  fast?: FastHandler[];
  /** The same on the HTTPS listener (e.g. ACME). */
  fastHttps?: FastHandler[];
  /** Stops background work (schedulers, validation workers) on shutdown. */
  close?(): Promise<void>;
}

export type FrontendFactory = (rt: Runtime, opts: ServeOptions) => Promise<Frontend> | Frontend;

export const frontendFactories: FrontendFactory[] = [
  // revocation (OCSP + CRL), acme, est, scep: one import + one entry each.
  revocationFrontend,
  estFrontend,
  acmeFrontend,
  scepFrontend,
  adminFrontend,
];
