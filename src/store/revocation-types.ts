/** Revocation data repositories (OCSP response cache, CRL numbers, leases). Owned by the revocation work. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RevocationRepository {}
