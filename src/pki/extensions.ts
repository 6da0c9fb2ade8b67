/**
 * Certificate extensions (RFC 5280 §4.2), one encoder each, returning a complete Extension:
 *
 *   Extension ::= SEQUENCE {
 *     extnID     OBJECT IDENTIFIER,
 *     critical   BOOLEAN DEFAULT FALSE,   -- omitted when FALSE (DER, X.690 §11.5)
 *     extnValue  OCTET STRING }           -- the DER of the extension's own type
 *
 * The module tags are IMPLICIT (RFC 5280 Appendix A.2) except where a CHOICE is tagged.
 * Also: GeneralName helpers (IP address text ↔ octets) and the SAN decoder used by CSR and
 * certificate parsing.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import { FlintError, type ErrorKind } from '../errors/index.js';
import { TAG, bool, explicit, implicitConstructed, implicitPrimitive, integer, namedBits, nullDer, octetString, oid, readHeader, seq, tlv } from './der.js';
import { EXT_KEY_USAGES, KEY_USAGES, type KeyUsage, type NameConstraints, type SubjectAltNames } from './types.js';
import { contentOf, decodeAsn1, isContext, isUniversal, kids } from './name.js';

export const EXTENSION_OIDS = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  freshestCrl: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  tlsFeature: '1.3.6.1.5.5.7.1.24',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
} as const;

const AD_OCSP = '1.3.6.1.5.5.7.48.1';
const AD_CA_ISSUERS = '1.3.6.1.5.5.7.48.2';
const DOTTED = /^[0-2](?:\.(?:0|[1-9]\d*))+$/;
const IA5 = /^[\x00-\x7f]+$/;

const malformed = (detail: string) => new FlintError('malformed', detail);

/** OID DER after checking the dotted form (der.oid would throw a SyntaxError on garbage). */
export function checkedOid(dotted: string, what: string): Buffer {
  if (typeof dotted !== 'string' || !DOTTED.test(dotted)) throw malformed(`${what}: "${dotted}" is not a dotted OID`);
  return oid(dotted);
}

/** Extension SEQUENCE around an already-encoded extnValue (RFC 5280 §4.1). */
export function extension(extnId: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? seq(checkedOid(extnId, 'extnID'), bool(true), octetString(value)) : seq(checkedOid(extnId, 'extnID'), octetString(value));
}

function nonEmpty<T>(list: readonly T[] | undefined, what: string): readonly T[] {
  if (!Array.isArray(list) || list.length === 0) throw malformed(`${what} needs at least one entry`);
  return list;
}

function ia5(s: string, what: string): Buffer {
  if (typeof s !== 'string' || s.length === 0 || !IA5.test(s)) throw malformed(`${what} "${s}" must be non-empty ASCII (IA5String)`);
  return Buffer.from(s, 'latin1');
}

// ---- IP addresses (GeneralName iPAddress, RFC 5280 §4.2.1.6 / §4.2.1.10) ---------------------

const V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function ipv6Bytes(s: string): Buffer | undefined {
  let text = s;
  let tail: number[] = [];
  if (text.includes('.')) {
    // Embedded IPv4 in the last 32 bits (RFC 4291 §2.2 form 3), e.g. ::ffff:192.0.2.1
    const i = text.lastIndexOf(':');
    const v4 = text.slice(i + 1);
    if (!V4.test(v4)) return undefined;
    tail = v4.split('.').map(Number);
    text = text.slice(0, i + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const want = 8 - tail.length / 2;
  if (halves.length === 1 ? head.length !== want : head.length + rest.length > want - 1) return undefined;
  const all = [...head, ...Array<string>(want - head.length - rest.length).fill('0'), ...rest];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  Buffer.from(tail).copy(out, 12);
  return out;
}

/** IPv4 dotted quad → 4 octets, IPv6 text → 16 octets; anything else → FlintError malformed. */
export function ipToBytes(ip: string): Buffer {
  if (typeof ip === 'string' && V4.test(ip)) return Buffer.from(ip.split('.').map(Number));
  const v6 = typeof ip === 'string' && ip.includes(':') ? ipv6Bytes(ip) : undefined;
  if (!v6) throw malformed(`"${ip}" is not an IPv4 or IPv6 address`);
  return v6;
}

/** 4 or 16 octets → text (IPv6 in RFC 5952 canonical form). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) throw malformed(`iPAddress has ${b.length} octets (expected 4 or 16)`);
  const g = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1;
  let bestLen = 1; // RFC 5952 §4.2.2: never compress a single zero group
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

/** CIDR ("10.0.0.0/8", "2001:db8::/32") → address octets followed by mask octets (§4.2.1.10). */
export function cidrToBytes(cidr: string): Buffer {
  const [addr, len, extra] = typeof cidr === 'string' ? cidr.split('/') : [];
  const a = ipToBytes(addr ?? '');
  const bits = len !== undefined && /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (extra !== undefined || !(bits >= 0 && bits <= a.length * 8)) throw malformed(`"${cidr}" is not a CIDR block`);
  const mask = Buffer.alloc(a.length);
  for (let i = 0; i < bits; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  if (a.some((x, i) => (x & ~mask[i]!) !== 0)) throw malformed(`CIDR "${cidr}" has host bits set`);
  return Buffer.concat([a, mask]);
}

// ---- GeneralName (RFC 5280 §4.2.1.6) ----------------------------------------------------------
//   GeneralName ::= CHOICE { otherName [0], rfc822Name [1] IA5String, dNSName [2] IA5String,
//     x400Address [3], directoryName [4] Name, ediPartyName [5],
//     uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING, registeredID [8] OID }

export const uriName = (u: string): Buffer => implicitPrimitive(6, ia5(u, 'URI'));
const dnsName = (d: string): Buffer => implicitPrimitive(2, ia5(d, 'dNSName'));
const emailName = (e: string): Buffer => implicitPrimitive(1, ia5(e, 'rfc822Name'));
const ipName = (ip: string): Buffer => implicitPrimitive(7, ipToBytes(ip));

/** GeneralNames for a SAN, in the stable order dNSName, iPAddress, rfc822Name, URI. */
export function generalNames(sans: SubjectAltNames): Buffer[] {
  return [...(sans.dns ?? []).map(dnsName), ...(sans.ip ?? []).map(ipName), ...(sans.email ?? []).map(emailName), ...(sans.uri ?? []).map(uriName)];
}

// ---- the extensions ---------------------------------------------------------------------------

/**
 * RFC 5280 §4.2.1.9, always critical here:
 *   BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
 * cA FALSE is the DEFAULT and is omitted, so an end-entity value is `30 00`.
 */
export function basicConstraintsExtension(bc: { ca: boolean; pathLen?: number }): Buffer {
  if (bc.pathLen !== undefined && (!bc.ca || !Number.isInteger(bc.pathLen) || bc.pathLen < 0)) {
    throw malformed('pathLenConstraint needs cA TRUE and a non-negative integer');
  }
  const body = bc.ca ? (bc.pathLen === undefined ? [bool(true)] : [bool(true), integer(bc.pathLen)]) : [];
  return extension(EXTENSION_OIDS.basicConstraints, true, seq(...body));
}

/**
 * RFC 5280 §4.2.1.3, critical:
 *   KeyUsage ::= BIT STRING { digitalSignature (0), nonRepudiation (1), keyEncipherment (2),
 *     dataEncipherment (3), keyAgreement (4), keyCertSign (5), cRLSign (6), encipherOnly (7), decipherOnly (8) }
 */
export function keyUsageExtension(usages: readonly KeyUsage[]): Buffer {
  const bits = nonEmpty(usages, 'keyUsage').map((u) => {
    const i = KEY_USAGES.indexOf(u);
    if (i < 0) throw malformed(`unknown key usage "${u}"`);
    return i;
  });
  return extension(EXTENSION_OIDS.keyUsage, true, namedBits([...new Set(bits)]));
}

/** Extended key usage name (serverAuth, ...) or dotted OID → dotted OID. */
export function extKeyUsageOid(u: string): string {
  return (EXT_KEY_USAGES as Record<string, string>)[u] ?? u;
}

/**
 * RFC 5280 §4.2.1.12, non-critical:
 *   ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId
 *   KeyPurposeId ::= OBJECT IDENTIFIER
 */
export function extKeyUsageExtension(usages: readonly string[]): Buffer {
  return extension(EXTENSION_OIDS.extKeyUsage, false, seq(...nonEmpty(usages, 'extKeyUsage').map((u) => checkedOid(extKeyUsageOid(u), 'extKeyUsage'))));
}

/**
 * RFC 5280 §4.2.1.6: SubjectAltName ::= GeneralNames; GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName.
 * Must be critical when the subject is empty (pass `critical`).
 */
export function subjectAltNameExtension(sans: SubjectAltNames, critical = false): Buffer {
  const names = generalNames(sans);
  if (names.length === 0) throw malformed('subjectAltName needs at least one name');
  return extension(EXTENSION_OIDS.subjectAltName, critical, seq(...names));
}

/**
 * RFC 5280 §4.2.1.2 method (1): the 160-bit SHA-1 of the subjectPublicKey BIT STRING value
 * (excluding tag, length and the unused-bits octet) of a SubjectPublicKeyInfo DER.
 *   SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
 */
export function subjectKeyIdentifier(spki: Uint8Array): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}

/** The subjectPublicKey bits of an SPKI (checked with the header reader, no full parse). */
export function subjectPublicKeyBits(spki: Uint8Array, kind: ErrorKind = 'malformed'): Uint8Array {
  try {
    const outer = readHeader(spki, 0);
    const alg = readHeader(spki, outer.contentStart);
    const key = readHeader(spki, alg.end);
    if (outer.tag !== TAG.SEQUENCE || alg.tag !== TAG.SEQUENCE || key.tag !== TAG.BIT_STRING || key.end !== outer.end || outer.end !== spki.length || key.length < 1) {
      throw new RangeError('not a SEQUENCE { AlgorithmIdentifier, BIT STRING }');
    }
    return spki.subarray(key.contentStart + 1, key.end);
  } catch (e) {
    throw new FlintError(kind, `SubjectPublicKeyInfo: ${(e as Error).message}`, { cause: e });
  }
}

/** RFC 5280 §4.2.1.2, non-critical: SubjectKeyIdentifier ::= KeyIdentifier (OCTET STRING). */
export function subjectKeyIdentifierExtension(keyId: Uint8Array): Buffer {
  return extension(EXTENSION_OIDS.subjectKeyIdentifier, false, octetString(keyId));
}

/**
 * RFC 5280 §4.2.1.1, non-critical, keyIdentifier only:
 *   AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL,
 *     authorityCertIssuer [1] GeneralNames OPTIONAL, authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL }
 */
export function authorityKeyIdentifierExtension(keyId: Uint8Array): Buffer {
  if (!keyId || keyId.length === 0) throw malformed('authorityKeyIdentifier needs a key identifier');
  return extension(EXTENSION_OIDS.authorityKeyIdentifier, false, seq(implicitPrimitive(0, keyId)));
}

/**
 * RFC 5280 §4.2.1.13 (and §4.2.1.15 with the same syntax): all URLs go in one DistributionPoint
 * as alternative locations of the same CRL ("each name describes a different mechanism to obtain
 * the same CRL"), like OpenSSL's `[dp] fullname = URI:a,URI:b` (not `-addext ...=URI:a,URI:b`,
 * which makes one DistributionPoint per URL).
 *   CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint
 *   DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 *     reasons [1] ReasonFlags OPTIONAL, cRLIssuer [2] GeneralNames OPTIONAL }
 *   DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] ... }
 * [0] around the CHOICE is explicit (X.680 §31.2.7); fullName [0] is implicit.
 */
function distributionPoints(urls: readonly string[], what: string): Buffer {
  return seq(seq(explicit(0, implicitConstructed(0, ...nonEmpty(urls, what).map(uriName)))));
}

export function crlDistributionPointsExtension(urls: readonly string[]): Buffer {
  return extension(EXTENSION_OIDS.crlDistributionPoints, false, distributionPoints(urls, 'cRLDistributionPoints'));
}

/** RFC 5280 §4.2.1.15, non-critical: FreshestCRL ::= CRLDistributionPoints (delta CRLs). */
export function freshestCrlExtension(urls: readonly string[]): Buffer {
  return extension(EXTENSION_OIDS.freshestCrl, false, distributionPoints(urls, 'freshestCRL'));
}

/**
 * RFC 5280 §4.2.2.1, non-critical; OCSP entries first, then caIssuers:
 *   AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription
 *   AccessDescription ::= SEQUENCE { accessMethod OBJECT IDENTIFIER, accessLocation GeneralName }
 */
export function authorityInfoAccessExtension(aia: { ocsp?: readonly string[]; caIssuers?: readonly string[] }): Buffer {
  const entries = [
    ...(aia.ocsp ?? []).map((u) => seq(oid(AD_OCSP), uriName(u))),
    ...(aia.caIssuers ?? []).map((u) => seq(oid(AD_CA_ISSUERS), uriName(u))),
  ];
  return extension(EXTENSION_OIDS.authorityInfoAccess, false, seq(...nonEmpty(entries, 'authorityInfoAccess')));
}

/**
 * RFC 5280 §4.2.1.4, non-critical, identifiers without qualifiers:
 *   certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
 *   PolicyInformation ::= SEQUENCE { policyIdentifier CertPolicyId, policyQualifiers SEQUENCE ... OPTIONAL }
 */
export function certificatePoliciesExtension(policies: readonly string[]): Buffer {
  return extension(EXTENSION_OIDS.certificatePolicies, false, seq(...nonEmpty(policies, 'certificatePolicies').map((p) => seq(checkedOid(p, 'certificatePolicies')))));
}

/**
 * RFC 5280 §4.2.1.10, critical; subtrees in the order dNSName, iPAddress, rfc822Name:
 *   NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL,
 *     excludedSubtrees [1] GeneralSubtrees OPTIONAL }
 *   GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree
 *   GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] BaseDistance DEFAULT 0,
 *     maximum [1] BaseDistance OPTIONAL }   -- minimum 0 omitted, maximum never used (§4.2.1.10)
 * iPAddress bases are address octets followed by mask octets (8 for IPv4, 32 for IPv6).
 */
export function nameConstraintsExtension(nc: NameConstraints): Buffer {
  const subtrees = (dns?: string[], ip?: string[], email?: string[]) => [
    ...(dns ?? []).map((d) => seq(dnsName(d))),
    ...(ip ?? []).map((c) => seq(implicitPrimitive(7, cidrToBytes(c)))),
    ...(email ?? []).map((e) => seq(emailName(e))),
  ];
  const permitted = subtrees(nc.permittedDns, nc.permittedIp, nc.permittedEmail);
  const excluded = subtrees(nc.excludedDns, nc.excludedIp, nc.excludedEmail);
  if (permitted.length + excluded.length === 0) throw malformed('nameConstraints needs at least one subtree (§4.2.1.10)');
  const body = [...(permitted.length ? [implicitConstructed(0, ...permitted)] : []), ...(excluded.length ? [implicitConstructed(1, ...excluded)] : [])];
  return extension(EXTENSION_OIDS.nameConstraints, true, seq(...body));
}

/**
 * RFC 7633 §4.1 TLS Feature, non-critical; status_request (5) is OCSP must-staple:
 *   Features ::= SEQUENCE OF INTEGER
 */
export function tlsFeatureExtension(features: readonly number[] = [5]): Buffer {
  return extension(EXTENSION_OIDS.tlsFeature, false, seq(...nonEmpty(features, 'tlsFeature').map((f) => integer(f))));
}

/** RFC 6960 §4.2.2.2.1, non-critical: id-pkix-ocsp-nocheck with value NULL. */
export function ocspNoCheckExtension(): Buffer {
  return extension(EXTENSION_OIDS.ocspNoCheck, false, nullDer());
}

// ---- decoding ---------------------------------------------------------------------------------

const OTHER_NAME_KINDS = ['otherName', '', '', 'x400Address', 'directoryName', 'ediPartyName', '', '', 'registeredID'];

/**
 * GeneralNames DER (a SAN extnValue) → SubjectAltNames, plus the kinds of names we do not model
 * (otherName, directoryName, ...), which callers may reject. Throws FlintError(kind).
 */
export function parseSubjectAltName(extnValue: Uint8Array, kind: ErrorKind = 'malformed'): { sans: SubjectAltNames; unsupported: string[] } {
  const el = decodeAsn1(extnValue, 'subjectAltName', kind);
  const sans: SubjectAltNames = { dns: [], ip: [], email: [], uri: [] };
  const unsupported: string[] = [];
  if (!isUniversal(el, 16) || kids(el).length === 0) throw new FlintError(kind, 'subjectAltName is not a non-empty SEQUENCE of GeneralName');
  for (const gn of kids(el)) {
    const text = () => {
      const s = contentOf(gn).toString('latin1');
      if (!IA5.test(s)) throw new FlintError(kind, 'subjectAltName holds a name that is empty or not IA5String (RFC 5280 §4.2.1.6)');
      return s;
    };
    if (isContext(gn, 1)) sans.email.push(text());
    else if (isContext(gn, 2)) sans.dns.push(text());
    else if (isContext(gn, 6)) sans.uri.push(text());
    else if (isContext(gn, 7)) {
      const b = contentOf(gn);
      if (b.length !== 4 && b.length !== 16) throw new FlintError(kind, `subjectAltName iPAddress has ${b.length} octets`);
      sans.ip.push(bytesToIp(b));
    } else {
      const n = (gn as asn1js.BaseBlock).idBlock.tagNumber;
      unsupported.push(OTHER_NAME_KINDS[n] || `[${n}]`);
    }
  }
  return { sans, unsupported };
}
