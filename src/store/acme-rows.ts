/**
 * Row → record mapping of the ACME tables, shared by the SQLite and PostgreSQL stores (both keep
 * timestamps as integer ms, JSON as text, binary as bytes; see rows.ts).
 */
import type { AcmeAccountRecord, AcmeAuthzRecord, AcmeChallengeRecord, AcmeEabKeyRecord, AcmeOrderRecord, AcmeStoredProblem } from './acme-types.js';
import { date, dateOrNull, type Row } from './rows.js';

const problem = (v: unknown): AcmeStoredProblem | null => (v == null ? null : (JSON.parse(v as string) as AcmeStoredProblem));
export const problemText = (p: AcmeStoredProblem | null | undefined): string | null => (p ? JSON.stringify(p) : null);

export function toAccount(r: Row): AcmeAccountRecord {
  return {
    id: r.id as string,
    thumbprint: r.thumbprint as string,
    jwk: JSON.parse(r.jwk as string) as Record<string, unknown>,
    contact: JSON.parse(r.contact as string) as string[],
    status: r.status as AcmeAccountRecord['status'],
    createdAt: date(r.created_at),
    provisioner: (r.provisioner as string | undefined) ?? 'acme',
  };
}

export function toEabKey(r: Row): AcmeEabKeyRecord {
  return {
    kid: r.kid as string,
    provisioner: r.provisioner as string,
    hmacKey: Buffer.from(r.hmac_key as Uint8Array),
    createdAt: date(r.created_at),
    accountId: (r.account_id as string | null) ?? null,
    usedAt: dateOrNull(r.used_at),
  };
}

export function toOrder(r: Row): AcmeOrderRecord {
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    status: r.status as AcmeOrderRecord['status'],
    identifiers: JSON.parse(r.identifiers as string) as AcmeOrderRecord['identifiers'],
    notBefore: dateOrNull(r.not_before),
    notAfter: dateOrNull(r.not_after),
    expires: date(r.expires),
    certSerial: (r.cert_serial as string | null) ?? null,
    error: problem(r.error),
    profile: r.profile as string,
    replaces: (r.replaces as string | null) ?? null,
    createdAt: date(r.created_at),
    csr: r.csr == null ? null : Buffer.from(r.csr as Uint8Array),
  };
}

export function toChallenge(r: Row): AcmeChallengeRecord {
  return {
    id: r.id as string,
    authzId: r.authz_id as string,
    type: r.type as AcmeChallengeRecord['type'],
    token: r.token as string,
    status: r.status as AcmeChallengeRecord['status'],
    validated: dateOrNull(r.validated),
    error: problem(r.error),
  };
}

/** An authorization row with its challenges (SQLite keeps `wildcard` as 0/1, PostgreSQL as a boolean). */
export function toAuthz(r: Row, challenges: AcmeChallengeRecord[]): AcmeAuthzRecord {
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    accountId: r.account_id as string,
    identifier: JSON.parse(r.identifier as string) as AcmeAuthzRecord['identifier'],
    status: r.status as AcmeAuthzRecord['status'],
    expires: date(r.expires),
    wildcard: r.wildcard === true || r.wildcard === 1,
    challenges,
  };
}
