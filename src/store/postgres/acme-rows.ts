/** Row ↔ record mapping for the PostgreSQL acme repository (same column meanings as sqlite/acme.ts). */
import type { AcmeAccountRecord, AcmeAuthzRecord, AcmeChallengeRecord, AcmeEabKeyRecord, AcmeOrderRecord, AcmeStoredProblem } from '../acme-types.js';
import { ms, query, type Queryable, type Row } from './db.js';

export const date = (v: unknown): Date | null => (v == null ? null : new Date(ms(v)));
const problem = (v: unknown): AcmeStoredProblem | null => (v == null ? null : (JSON.parse(v as string) as AcmeStoredProblem));
export const problemText = (p: AcmeStoredProblem | null | undefined): string | null => (p ? JSON.stringify(p) : null);

export function toAccount(r: Row): AcmeAccountRecord {
  return {
    id: r.id as string,
    thumbprint: r.thumbprint as string,
    jwk: JSON.parse(r.jwk as string) as Record<string, unknown>,
    contact: JSON.parse(r.contact as string) as string[],
    status: r.status as AcmeAccountRecord['status'],
    createdAt: new Date(ms(r.created_at)),
    provisioner: (r.provisioner as string | undefined) ?? 'acme',
  };
}

export function toEabKey(r: Row): AcmeEabKeyRecord {
  return {
    kid: r.kid as string,
    provisioner: r.provisioner as string,
    hmacKey: Buffer.from(r.hmac_key as Uint8Array),
    createdAt: new Date(ms(r.created_at)),
    accountId: (r.account_id as string | null) ?? null,
    usedAt: date(r.used_at),
  };
}

export function toOrder(r: Row): AcmeOrderRecord {
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    status: r.status as AcmeOrderRecord['status'],
    identifiers: JSON.parse(r.identifiers as string) as AcmeOrderRecord['identifiers'],
    notBefore: date(r.not_before),
    notAfter: date(r.not_after),
    expires: new Date(ms(r.expires)),
    certSerial: (r.cert_serial as string | null) ?? null,
    error: problem(r.error),
    profile: r.profile as string,
    replaces: (r.replaces as string | null) ?? null,
    createdAt: new Date(ms(r.created_at)),
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
    validated: date(r.validated),
    error: problem(r.error),
  };
}

/** Authorization rows with their challenges (one query for all of them, in their stored order). */
export async function loadAuthzs(db: Queryable, rows: Row[]): Promise<AcmeAuthzRecord[]> {
  if (rows.length === 0) return [];
  const chs = await query(db, 'SELECT * FROM acme_challenges WHERE authz_id = ANY($1::text[]) ORDER BY position', [rows.map((r) => r.id)]);
  const byAuthz = new Map<string, AcmeChallengeRecord[]>();
  for (const c of chs.rows.map(toChallenge)) {
    const list = byAuthz.get(c.authzId);
    if (list) list.push(c);
    else byAuthz.set(c.authzId, [c]);
  }
  return rows.map((r) => ({
    id: r.id as string,
    orderId: r.order_id as string,
    accountId: r.account_id as string,
    identifier: JSON.parse(r.identifier as string) as AcmeAuthzRecord['identifier'],
    status: r.status as AcmeAuthzRecord['status'],
    expires: new Date(ms(r.expires)),
    wildcard: r.wildcard === true,
    challenges: byAuthz.get(r.id as string) ?? [],
  }));
}
