/**
 * Degenerate "certs-only" CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3 / §4.2.3, RFC 8551 §3.2.2):
 * a SignedData with no signers that only carries certificates.
 *
 *   ContentInfo ::= SEQUENCE {
 *     contentType  ContentType,                     -- id-signedData 1.2.840.113549.1.7.2
 *     content      [0] EXPLICIT ANY DEFINED BY contentType }
 *   SignedData ::= SEQUENCE {
 *     version           CMSVersion,                 -- 1
 *     digestAlgorithms  DigestAlgorithmIdentifiers, -- SET OF, empty here
 *     encapContentInfo  EncapsulatedContentInfo,    -- { id-data } without eContent
 *     certificates      [0] IMPLICIT CertificateSet OPTIONAL,
 *     crls              [1] IMPLICIT RevocationInfoChoices OPTIONAL,  -- omitted
 *     signerInfos       SignerInfos }               -- SET OF, empty here
 *
 * The certificates are kept in the order given (leaf or issuing CA first) rather than DER-sorted:
 * clients read them as a list, and OpenSSL emits the same layout.
 */
import { integer, oid, seq, tlv, TAG } from './der.js';

export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const OID_DATA = '1.2.840.113549.1.7.1';

export function buildCertsOnly(certs: readonly Uint8Array[]): Buffer {
  const signedData = seq(
    integer(1),
    tlv(TAG.SET),
    seq(oid(OID_DATA)),
    ...(certs.length ? [tlv(0xa0, ...certs)] : []),
    tlv(TAG.SET),
  );
  return seq(oid(OID_SIGNED_DATA), tlv(0xa0, signedData));
}
