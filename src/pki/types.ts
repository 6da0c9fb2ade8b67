/** Shapes shared between pki/ builders and their callers (profiles/, core/). */
import type { KeyType } from './algorithms.js';

/** One attribute of a distinguished name, in the order it appears (one attribute per RDN). */
export interface NameAttribute {
  /** Short name (CN, O, OU, C, L, ST, serialNumber, emailAddress, DC, UID) or a dotted OID. */
  type: string;
  value: string;
}

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
  email: string[];
  uri: string[];
}

export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

/** Extended key usage by name; a dotted OID is accepted too. */
export const EXT_KEY_USAGES = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

export interface NameConstraints {
  permittedDns?: string[];
  excludedDns?: string[];
  permittedIp?: string[]; // CIDR
  excludedIp?: string[];
  permittedEmail?: string[];
  excludedEmail?: string[];
}

/** Everything a certificate's TBS carries, already decided by the profile. */
export interface TbsCertificateInput {
  /** Positive serial, big-endian unsigned bytes (≤ 20 octets, RFC 5280 §4.1.2.2). */
  serial: Uint8Array;
  /** AlgorithmIdentifier DER of the issuer's signature (from pki/algorithms). */
  signatureAlgorithm: Uint8Array;
  /** Issuer Name DER, copied byte for byte from the issuer certificate's subject. */
  issuer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** Subject attributes; empty means an empty subject (then SANs are critical, RFC 5280 §4.2.1.6). */
  subject: NameAttribute[];
  /** SubjectPublicKeyInfo DER. */
  subjectPublicKeyInfo: Uint8Array;
  sans: SubjectAltNames;
  keyUsage: KeyUsage[];
  extKeyUsage: string[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  /** Issuer's subject key identifier (AKI keyIdentifier); omitted for self-signed roots when absent. */
  authorityKeyId?: Uint8Array;
  /** Include a SubjectKeyIdentifier (SHA-1 of the subjectPublicKey bits, RFC 5280 §4.2.1.2 (1)). */
  subjectKeyId?: boolean;
  crlDistributionPoints?: string[];
  /** Freshest CRL (delta CRL pointer, RFC 5280 §4.2.1.15). */
  freshestCrl?: string[];
  ocspUrls?: string[];
  caIssuersUrls?: string[];
  /** Certificate policy OIDs. */
  policies?: string[];
  nameConstraints?: NameConstraints;
  /** TLS Feature status_request (OCSP must-staple, RFC 7633). */
  mustStaple?: boolean;
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1) for delegated OCSP responders. */
  ocspNoCheck?: boolean;
  /** Extra pre-encoded Extension DERs, appended as given. */
  extraExtensions?: Uint8Array[];
  /**
   * Subject Name DER to use byte for byte instead of encoding `subject` (e.g. to keep a CSR's or
   * an existing CA's exact encoding). `subject` should still describe it.
   */
  subjectDer?: Uint8Array;
}

export interface ParsedCsr {
  der: Buffer;
  /** Subject Name DER as in the CSR. */
  subjectDer: Buffer;
  subject: NameAttribute[];
  subjectPublicKeyInfo: Buffer;
  keyType: KeyType | 'unsupported';
  /** RSA modulus bits or EC curve size. */
  keyBits: number;
  sans: SubjectAltNames;
  /** challengePassword attribute (PKCS#9), used by SCEP/EST. */
  challengePassword?: string;
  /** Requested extensions (extensionRequest) by OID → DER of extnValue. */
  requestedExtensions: Map<string, Buffer>;
  /** OID of the CSR's own signature algorithm. */
  signatureAlgorithmOid: string;
  /** certificationRequestInfo DER exactly as received (what the self-signature covers). */
  certificationRequestInfo?: Buffer;
  /** The CSR's signature AlgorithmIdentifier DER (carries RSASSA-PSS parameters). */
  signatureAlgorithm?: Buffer;
  /** The CSR's signature bits. */
  signature?: Buffer;
  /** Kinds of requested SANs that `sans` cannot carry (otherName, directoryName, ...). */
  unsupportedSans?: string[];
}

/** What pki/ reads back from a certificate (parsing is on pkijs: not a hot path). */
export interface ParsedCertificate {
  der: Buffer;
  serialHex: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  subject: NameAttribute[];
  notBefore: Date;
  notAfter: Date;
  subjectPublicKeyInfo: Buffer;
  keyType: KeyType | 'unsupported';
  sans: SubjectAltNames;
  subjectKeyId?: Buffer;
  authorityKeyId?: Buffer;
  isCA: boolean;
  /** TBSCertificate DER (what the signature covers). */
  tbs: Buffer;
  signatureAlgorithmOid: string;
  signature: Buffer;
  issuer?: NameAttribute[];
  /** RSA modulus bits or curve size. */
  keyBits?: number;
  /** basicConstraints pathLenConstraint, when present. */
  pathLen?: number;
  keyUsage?: KeyUsage[];
  /** Extended key usage OIDs (dotted). */
  extKeyUsage?: string[];
  /** Every extension by OID. */
  extensions?: Map<string, { critical: boolean; value: Buffer }>;
  /** Kinds of SANs that `sans` cannot carry (otherName, directoryName, ...). */
  unsupportedSans?: string[];
}
