/** Every ACME URL is built here (ARCHITECTURE.md rule 9). `base` is https://HOST/acme/{provisioner}. */
export function acmeUrls(base: string) {
  return {
    directory: `${base}/directory`,
    newNonce: `${base}/new-nonce`,
    newAccount: `${base}/new-account`,
    newOrder: `${base}/new-order`,
    revokeCert: `${base}/revoke-cert`,
    keyChange: `${base}/key-change`,
    renewalInfo: `${base}/renewal-info`,
    accountPrefix: `${base}/acct/`,
    account: (id: string) => `${base}/acct/${id}`,
    orders: (id: string) => `${base}/acct/${id}/orders`,
    order: (id: string) => `${base}/order/${id}`,
    finalize: (id: string) => `${base}/order/${id}/finalize`,
    authz: (id: string) => `${base}/authz/${id}`,
    challenge: (id: string) => `${base}/chall/${id}`,
    certificate: (serial: string) => `${base}/cert/${serial}`,
    /** §7.4.2 alternate chain n (1-based) of a certificate. */
    alternateCertificate: (serial: string, n: number) => `${base}/cert/${serial}/${n}`,
  };
}

export type AcmeUrls = ReturnType<typeof acmeUrls>;
