/** What every framework-free handler receives and returns. */
import type { VerifiedRequest } from '../jws.js';
import type { AcmeDeps } from '../ports.js';
import type { AcmeUrls } from '../urls.js';
import { AcmeError } from '../errors.js';
import type { AcmeAccountRecord } from '../../../store/acme-types.js';
import type { AcmeProvisioner } from '../config.js';

export interface AcmeContext {
  deps: AcmeDeps;
  urls: AcmeUrls;
  provisioner: string;
  /** The provisioner's settings (profiles, identifier policy, challenges, EAB). */
  prov: AcmeProvisioner;
  req: VerifiedRequest;
  params: Record<string, string>;
  /** The client's address (socket peer; rate limits per IP). */
  clientIp?: string;
}

export interface AcmeReply {
  status: number;
  /** JSON body, or a raw body with its content type. */
  json?: unknown;
  raw?: { contentType: string; data: string | Buffer };
  location?: string;
  links?: string[];
  /** Retry-After seconds (e.g. an order or challenge still processing, §7.4 / §8.2). */
  retryAfter?: number;
}

export type AcmeHandler = (ctx: AcmeContext) => Promise<AcmeReply>;

/** The kid account (handlers behind 'kid' authentication always have one). */
export function account(ctx: AcmeContext): AcmeAccountRecord {
  if (!ctx.req.account) throw new AcmeError('accountDoesNotExist', 'request must be signed with an account kid');
  return ctx.req.account;
}

/** Not found, and not the caller's: both look the same (no existence oracle). */
export function notFound(what: string): AcmeError {
  return new AcmeError('malformed', `${what} not found`, { status: 404 });
}
