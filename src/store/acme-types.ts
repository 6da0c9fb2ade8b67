/** ACME repositories (accounts, orders, authorizations, challenges, nonces, EAB keys). Owned by the ACME work. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AcmeRepository {}
