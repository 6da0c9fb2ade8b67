/**
 * Per-(issuer, profile shape, algorithm) certificate templates: the constant parts of the TBS
 * (issuer name, AKI, CDP/AIA, policies, usages) are decided once; each request only supplies
 * serial, validity, subject, SANs and key. The DER fast path itself lives in pki/certificate.ts.
 */
import { signatureAlgorithmIdentifier, type SignatureAlgorithm } from '../pki/algorithms.js';
import { CertificateTemplate } from '../pki/certificate.js';
import type { NameAttribute, SubjectAltNames, TbsCertificateInput } from '../pki/types.js';
import type { Draft } from '../profiles/index.js';
import type { Issuer } from './issuers.js';
import type { PublicUrls } from './ports.js';

export interface PerRequest {
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  subject: NameAttribute[];
  subjectPublicKeyInfo: Uint8Array;
  sans: SubjectAltNames;
}

export interface TbsTemplate {
  readonly signatureAlgorithmDer: Buffer;
  /** Per-request values, plus optional per-request CRL pointers (partitioned CRLs). */
  build(v: PerRequest & { crlDistributionPoints?: string[]; freshestCrl?: string[] }): Buffer;
}

/** The constant half of a TBS for one issuer + draft shape. */
export function constantTbsInput(issuer: Issuer, draft: Draft, algorithm: SignatureAlgorithm, urls: PublicUrls): Omit<TbsCertificateInput, keyof PerRequest> {
  return {
    signatureAlgorithm: signatureAlgorithmIdentifier(algorithm),
    issuer: issuer.cert.subjectDer,
    keyUsage: draft.keyUsage,
    extKeyUsage: draft.extKeyUsage,
    basicConstraints: draft.basicConstraints.ca || draft.basicConstraints.pathLen !== undefined ? draft.basicConstraints : { ca: false },
    authorityKeyId: issuer.cert.subjectKeyId,
    subjectKeyId: true,
    crlDistributionPoints: draft.crl ? [urls.crl(issuer.id)] : undefined,
    freshestCrl: draft.crl && draft.deltaCrl ? [urls.deltaCrl(issuer.id)] : undefined,
    ocspUrls: draft.ocsp ? [urls.ocsp()] : undefined,
    caIssuersUrls: draft.caIssuers ? [urls.caIssuers(issuer.id)] : undefined,
    policies: draft.policies.length ? draft.policies : undefined,
    mustStaple: draft.mustStaple,
    ocspNoCheck: draft.ocspNoCheck,
  };
}

export class TemplateCache {
  private readonly cache = new Map<string, TbsTemplate>();

  constructor(private readonly urls: PublicUrls) {}

  get(issuer: Issuer, draft: Draft, algorithm: SignatureAlgorithm): TbsTemplate {
    const key = [issuer.id, issuer.record.ski, algorithm, draft.profile, draft.keyUsage.join(','), draft.extKeyUsage.join(','), draft.basicConstraints.ca, draft.basicConstraints.pathLen, draft.mustStaple, draft.ocspNoCheck, draft.policies.join(','), draft.crl, draft.deltaCrl, draft.ocsp, draft.caIssuers].join('|');
    let t = this.cache.get(key);
    if (!t) {
      const constant = constantTbsInput(issuer, draft, algorithm, this.urls);
      const template = new CertificateTemplate(constant);
      t = {
        signatureAlgorithmDer: Buffer.from(constant.signatureAlgorithm),
        build: (v) => template.build(v),
      };
      this.cache.set(key, t);
    }
    return t;
  }
}
