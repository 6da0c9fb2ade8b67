/** RFC 8555 wire objects (https://www.rfc-editor.org/rfc/rfc8555). */
import type { AcmeIdentifier } from '../../store/acme-types.js';

export type { AcmeIdentifier };

/** §7.1.1 */
export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  keyChange: string;
  /** RFC 9773 ARI */
  renewalInfo?: string;
  meta?: { termsOfService?: string; website?: string; caaIdentities?: string[]; externalAccountRequired?: boolean; profiles?: Record<string, string> };
}

/** §7.1.2 */
export interface Account {
  status: 'valid' | 'deactivated' | 'revoked';
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  orders: string;
}

/** §7.1.3 */
export interface Order {
  status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  expires: string;
  identifiers: AcmeIdentifier[];
  notBefore?: string;
  notAfter?: string;
  error?: Problem;
  authorizations: string[];
  finalize: string;
  certificate?: string;
}

/** §7.1.4 */
export interface Authorization {
  identifier: AcmeIdentifier;
  status: string;
  expires: string;
  challenges: Challenge[];
  wildcard?: boolean;
}

/** §7.1.5, §8 */
export interface Challenge {
  type: string;
  url: string;
  status: string;
  token: string;
  validated?: string;
  error?: Problem;
}

/** RFC 7807 problem document, §6.7 */
export interface Problem {
  type: string;
  detail: string;
  status: number;
  subproblems?: (Problem & { identifier?: AcmeIdentifier })[];
  algorithms?: string[];
}

/** §7.3 newAccount payload */
export interface NewAccountPayload {
  contact?: unknown;
  termsOfServiceAgreed?: unknown;
  onlyReturnExisting?: unknown;
  externalAccountBinding?: unknown;
}

/** §7.4 newOrder payload */
export interface NewOrderPayload {
  identifiers?: unknown;
  notBefore?: unknown;
  notAfter?: unknown;
  profile?: unknown;
  replaces?: unknown;
}

/** §7.6 revokeCert payload */
export interface RevokeCertPayload {
  certificate?: unknown;
  reason?: unknown;
}
