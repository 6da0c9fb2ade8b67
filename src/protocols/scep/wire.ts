/**
 * SCEP wire vocabulary (RFC 8894): operations (§4), message types, pkiStatus and failInfo values
 * (§3.2.1.2-§3.2.1.4), signed attribute OIDs (§3.2.1), capabilities (§3.5.2) and media types (§4).
 */

/** §3.2.1 SCEP signed attributes (id-VeriSign 2.16.840.1.113733.1.9.x). */
export const SCEP_ATTR = {
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionID: '2.16.840.1.113733.1.9.7',
} as const;

/** §3.2.1.2 messageType (decimal PrintableString). */
export const MESSAGE_TYPE = {
  CertRep: 3,
  RenewalReq: 17,
  PKCSReq: 19,
  CertPoll: 20,
  GetCert: 21,
  GetCRL: 22,
} as const;
export type MessageType = (typeof MESSAGE_TYPE)[keyof typeof MESSAGE_TYPE];
export const messageTypeName = (n: number): string => Object.entries(MESSAGE_TYPE).find(([, v]) => v === n)?.[0] ?? String(n);

/** §3.2.1.3 pkiStatus. */
export const PKI_STATUS = { SUCCESS: 0, FAILURE: 2, PENDING: 3 } as const;

/** §3.2.1.4 failInfo. */
export const FAIL_INFO = { badAlg: 0, badMessageCheck: 1, badRequest: 2, badTime: 3, badCertId: 4 } as const;
export type FailInfo = (typeof FAIL_INFO)[keyof typeof FAIL_INFO];
export const failInfoName = (n: number): string => Object.entries(FAIL_INFO).find(([, v]) => v === n)?.[0] ?? String(n);

/** §4 operations (the `operation` query parameter). */
export const OPERATIONS = ['GetCACaps', 'GetCACert', 'PKIOperation', 'GetNextCACert'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const MEDIA = {
  /** §4.2.1: the CA certificate alone. */
  caCert: 'application/x-x509-ca-cert',
  /** §4.2.1.2: CA + RA certificates in a degenerate certs-only SignedData. */
  caRaCert: 'application/x-x509-ca-ra-cert',
  /** §4.3: PKIOperation request and response. */
  pkiMessage: 'application/x-pki-message',
  caps: 'text/plain',
} as const;

/** §3.5.2 capabilities we really implement (DES3 only where the label allows it). */
export function capabilities(allowDES3: boolean): string[] {
  return ['AES', ...(allowDES3 ? ['DES3'] : []), 'POSTPKIOperation', 'Renewal', 'SHA-1', 'SHA-256', 'SHA-512', 'SCEPStandard'];
}
