/**
 * Reading back a CRL signed elsewhere (key ceremonies sign root CRLs offline; the install step
 * checks and stores them). Parsing on pkijs (not a hot path); RFC 5280 §5.1.
 */
import * as pkijs from 'pkijs';
import { FlintError } from '../errors/index.js';
import { CRL_OIDS } from './crl.js';
import { verifySignedData } from './csr.js';
import { children, readHeader } from './der.js';
import { decodeAsn1 } from './name.js';
import { derOrPem } from './pem.js';

export interface ParsedCrl {
  der: Buffer;
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  number: bigint | undefined;
  revokedSerials: string[];
}

export function parseCrl(input: Uint8Array | string): ParsedCrl {
  const der = derOrPem(input, 'X509 CRL');
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = new pkijs.CertificateRevocationList({ schema: decodeAsn1(der, 'CRL') });
  } catch (e) {
    throw new FlintError('malformed', `not an X.509 CRL: ${(e as Error).message}`);
  }
  const numExt = crl.crlExtensions?.extensions.find((x) => x.extnID === CRL_OIDS.cRLNumber);
  const numHex = numExt ? Buffer.from((numExt.parsedValue as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView).toString('hex') : undefined;
  return {
    der,
    issuerDer: issuerOf(der),
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value,
    number: numHex ? BigInt(`0x${numHex}`) : undefined,
    revokedSerials: (crl.revokedCertificates ?? []).map((r) => Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex').replace(/^(00)+(?=[0-9a-f]{2})/, '')),
  };
}

/** True when the CRL's signature verifies with `spki` (the issuer's SubjectPublicKeyInfo DER). */
export function crlSignatureValid(der: Buffer, spki: Uint8Array): boolean {
  const [tbs, alg, sig] = children(der);
  if (!tbs || !alg || !sig) return false;
  const h = readHeader(sig);
  return verifySignedData(spki, alg, tbs, sig.subarray(h.contentStart + 1, h.end));
}

/** TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature, issuer Name, ... }: the issuer's exact bytes. */
function issuerOf(der: Buffer): Buffer {
  const parts = children(children(der)[0]!);
  return parts[parts[0]![0] === 0x02 ? 2 : 1]!;
}
