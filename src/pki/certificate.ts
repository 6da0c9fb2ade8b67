/**
 * X.509 v3 certificates (RFC 5280 §4.1): TBS building (a plain reference builder and a fast
 * pre-encoded template), assembly from (tbs, algorithm, signature), parsing and fingerprints.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate TBSCertificate,
 *     signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 *   TBSCertificate ::= SEQUENCE {
 *     version          [0] EXPLICIT Version DEFAULT v1,  -- always v3 (2) here
 *     serialNumber     CertificateSerialNumber,          -- INTEGER, positive, ≤ 20 octets (§4.1.2.2)
 *     signature        AlgorithmIdentifier,
 *     issuer           Name,
 *     validity         Validity,
 *     subject          Name,
 *     subjectPublicKeyInfo SubjectPublicKeyInfo,
 *     issuerUniqueID   [1] IMPLICIT UniqueIdentifier OPTIONAL,  -- never emitted (§4.1.2.8)
 *     subjectUniqueID  [2] IMPLICIT UniqueIdentifier OPTIONAL,  -- never emitted
 *     extensions       [3] EXPLICIT Extensions OPTIONAL }       -- omitted when there are none
 *   Validity ::= SEQUENCE { notBefore Time, notAfter Time }     -- Time per §4.1.2.5
 *
 * Extensions are emitted in one stable order (ENTRIES below). Building through pkijs objects
 * costs ~2 ms per certificate (shared/CLIENTS.md), so CertificateTemplate pre-encodes everything
 * that is constant per (issuer, profile) and concatenates buffers per request.
 */
import { createHash } from 'node:crypto';
import * as pkijs from 'pkijs';
import { FlintError } from '../errors/index.js';
import { bitString, explicit, integer, readHeader, seq, time } from './der.js';
import {
  EXTENSION_OIDS, authorityInfoAccessExtension, authorityKeyIdentifierExtension, basicConstraintsExtension,
  certificatePoliciesExtension, crlDistributionPointsExtension, extKeyUsageExtension, freshestCrlExtension,
  keyUsageExtension, nameConstraintsExtension, ocspNoCheckExtension, parseSubjectAltName, subjectAltNameExtension,
  subjectKeyIdentifier, subjectKeyIdentifierExtension, subjectPublicKeyBits, tlsFeatureExtension,
} from './extensions.js';
import { contentOf, decodeAsn1, encodeName, tagHeader as header, isContext, isUniversal, kids, nameFromAsn1, oidOf, rawOf } from './name.js';
import { derOrPem } from './pem.js';
import { spkiKeyType } from './csr.js';
import { KEY_USAGES, type KeyUsage, type ParsedCertificate, type SubjectAltNames, type TbsCertificateInput } from './types.js';

const malformed = (detail: string) => new FlintError('malformed', detail);
const VERSION_V3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

// ---- input checks shared by both builders -------------------------------------------------------

function checkSequence(der: Uint8Array | undefined, what: string): Buffer {
  try {
    if (!(der instanceof Uint8Array)) throw new RangeError('missing');
    const h = readHeader(der, 0);
    if (h.tag !== 0x30 || h.end !== der.length) throw new RangeError('not one DER SEQUENCE');
  } catch (e) {
    throw new FlintError('malformed', `${what}: ${(e as Error).message}`, { cause: e });
  }
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength);
}

/** CertificateSerialNumber (§4.1.2.2): positive, at most 20 content octets. */
function serialDer(serial: Uint8Array): Buffer {
  if (!(serial instanceof Uint8Array) || serial.length === 0) throw malformed('serial number is missing');
  const der = integer(serial);
  if (der.length === 3 && der[2] === 0) throw malformed('serial number must be positive (RFC 5280 §4.1.2.2)');
  if (der.length - 2 > 20) throw malformed(`serial number is ${der.length - 2} octets, at most 20 allowed (RFC 5280 §4.1.2.2)`);
  return der;
}

function validityDer(notBefore: Date, notAfter: Date): Buffer {
  const nb = notBefore?.getTime?.();
  const na = notAfter?.getTime?.();
  if (!Number.isFinite(nb) || !Number.isFinite(na)) throw malformed('notBefore/notAfter must be valid dates');
  if (na! < nb!) throw malformed('notAfter is before notBefore');
  return seq(time(notBefore), time(notAfter));
}

const hasSans = (s: SubjectAltNames | undefined): boolean => !!s && (s.dns?.length || s.ip?.length || s.email?.length || s.uri?.length) > 0;
const subjectIsEmpty = (i: TbsCertificateInput): boolean => (i.subjectDer ? i.subjectDer.length === 2 : i.subject.length === 0);

function subjectDer(i: TbsCertificateInput): Buffer {
  if (!subjectIsEmpty(i) || hasSans(i.sans)) return i.subjectDer ? checkSequence(i.subjectDer, 'subject') : encodeName(i.subject);
  throw malformed('empty subject needs subjectAltNames (RFC 5280 §4.1.2.6)');
}

/** RFC 5280 §4.2: at most one instance of each extension (only checked when extras are given). */
function assertUniqueExtensions(exts: readonly Buffer[]): void {
  const seen = new Set<string>();
  for (const e of exts) {
    let key: string;
    try {
      const outer = readHeader(e, 0);
      const id = readHeader(e, outer.contentStart);
      if (outer.tag !== 0x30 || id.tag !== 0x06) throw new RangeError('no extnID');
      key = e.subarray(id.contentStart, id.end).toString('hex');
    } catch (err) {
      throw new FlintError('malformed', 'extra extension is not an Extension SEQUENCE { extnID, ... }', { cause: err });
    }
    if (seen.has(key)) throw malformed('duplicate extension (RFC 5280 §4.2)');
    seen.add(key);
  }
}

// ---- extensions, in their stable order ----------------------------------------------------------

type Segment = 'A' | 'ski' | 'B' | 'san' | 'C' | 'extra';
type Entry = readonly [Segment, (i: TbsCertificateInput) => Buffer | undefined];

const ENTRIES: readonly Entry[] = [
  ['A', (i) => (i.basicConstraints ? basicConstraintsExtension(i.basicConstraints) : undefined)],
  ['A', (i) => (i.keyUsage?.length ? keyUsageExtension(i.keyUsage) : undefined)],
  ['A', (i) => (i.extKeyUsage?.length ? extKeyUsageExtension(i.extKeyUsage) : undefined)],
  ['ski', (i) => (i.subjectKeyId ? subjectKeyIdentifierExtension(subjectKeyIdentifier(i.subjectPublicKeyInfo)) : undefined)],
  ['B', (i) => (i.authorityKeyId ? authorityKeyIdentifierExtension(i.authorityKeyId) : undefined)],
  ['B', (i) => (i.ocspUrls?.length || i.caIssuersUrls?.length ? authorityInfoAccessExtension({ ocsp: i.ocspUrls, caIssuers: i.caIssuersUrls }) : undefined)],
  ['san', (i) => (hasSans(i.sans) ? subjectAltNameExtension(i.sans, subjectIsEmpty(i)) : undefined)],
  ['C', (i) => (i.policies?.length ? certificatePoliciesExtension(i.policies) : undefined)],
  ['C', (i) => (i.crlDistributionPoints?.length ? crlDistributionPointsExtension(i.crlDistributionPoints) : undefined)],
  ['C', (i) => (i.freshestCrl?.length ? freshestCrlExtension(i.freshestCrl) : undefined)],
  ['C', (i) => (i.nameConstraints ? nameConstraintsExtension(i.nameConstraints) : undefined)],
  ['C', (i) => (i.mustStaple ? tlsFeatureExtension([5]) : undefined)],
  ['C', (i) => (i.ocspNoCheck ? ocspNoCheckExtension() : undefined)],
];

function segment(seg: Segment, i: TbsCertificateInput): Buffer[] {
  if (seg === 'extra') return (i.extraExtensions ?? []).map((e) => checkSequence(e, 'extra extension'));
  const out: Buffer[] = [];
  for (const [s, f] of ENTRIES) {
    if (s !== seg) continue;
    const der = f(i);
    if (der) out.push(der);
  }
  return out;
}

const SEGMENT_ORDER: readonly Segment[] = ['A', 'ski', 'B', 'san', 'C', 'extra'];

/** The extensions of a TBS in their emitted order. */
export function certificateExtensions(input: TbsCertificateInput): Buffer[] {
  const exts = SEGMENT_ORDER.flatMap((s) => segment(s, input));
  if (input.extraExtensions?.length) assertUniqueExtensions(exts);
  return exts;
}

/** Reference builder: TBSCertificate DER from a complete input, written plainly with der.ts. */
export function buildTbsCertificate(input: TbsCertificateInput): Buffer {
  const exts = certificateExtensions(input);
  subjectPublicKeyBits(input.subjectPublicKeyInfo);
  return seq(
    VERSION_V3,
    serialDer(input.serial),
    checkSequence(input.signatureAlgorithm, 'signatureAlgorithm'),
    checkSequence(input.issuer, 'issuer'),
    validityDer(input.notBefore, input.notAfter),
    subjectDer(input),
    checkSequence(input.subjectPublicKeyInfo, 'subjectPublicKeyInfo'),
    ...(exts.length ? [explicit(3, seq(...exts))] : []),
  );
}

// ---- fast path ----------------------------------------------------------------------------------

const PER_REQUEST = ['serial', 'notBefore', 'notAfter', 'subject', 'subjectPublicKeyInfo', 'sans'] as const;
type PerRequest = (typeof PER_REQUEST)[number];

/** What is fixed per (issuer, profile). */
export type CertificateTemplateBase = Omit<TbsCertificateInput, PerRequest>;
/** What varies per request; any base field may be overridden too (that part is re-encoded). */
export type CertificateTemplateRequest = Pick<TbsCertificateInput, PerRequest> & Partial<CertificateTemplateBase>;

const FIELD_SEGMENT: Readonly<Record<string, Segment | 'prefix'>> = {
  signatureAlgorithm: 'prefix', issuer: 'prefix',
  basicConstraints: 'A', keyUsage: 'A', extKeyUsage: 'A',
  authorityKeyId: 'B', ocspUrls: 'B', caIssuersUrls: 'B',
  policies: 'C', crlDistributionPoints: 'C', freshestCrl: 'C', nameConstraints: 'C', mustStaple: 'C', ocspNoCheck: 'C',
};

/**
 * A TBS builder for one (issuer, profile): the signature algorithm, issuer name and constant
 * extensions are encoded once; `build` encodes only serial, validity, subject, SPKI, SKI and
 * SAN (plus any overridden base fields) and concatenates. Output is byte-identical to
 * buildTbsCertificate({ ...base, ...request }).
 */
export class CertificateTemplate {
  private readonly base: CertificateTemplateBase;
  private readonly prefix: Buffer; // signature AlgorithmIdentifier + issuer Name
  private readonly segs: Readonly<Record<'A' | 'B' | 'C', Buffer[]>>;

  constructor(base: CertificateTemplateBase) {
    const probe = base as TbsCertificateInput; // segments A, B and C read only base fields
    this.base = { ...base };
    this.prefix = Buffer.concat([checkSequence(base.signatureAlgorithm, 'signatureAlgorithm'), checkSequence(base.issuer, 'issuer')]);
    this.segs = { A: segment('A', probe), B: segment('B', probe), C: segment('C', probe) };
  }

  build(req: CertificateTemplateRequest): Buffer {
    const b = this.base;
    let dirty = 0; // bit set of overridden segments
    for (const k in req) {
      const s = FIELD_SEGMENT[k];
      if (s && (req as Record<string, unknown>)[k] !== undefined) dirty |= s === 'prefix' ? 1 : s === 'A' ? 2 : s === 'B' ? 4 : 8;
    }
    // Only an override needs a merged input (and re-encodes its segment); the common case reads req.
    const merged = dirty ? mergeDefined(b, req) : undefined;
    const prefix = merged && dirty & 1 ? Buffer.concat([checkSequence(merged.signatureAlgorithm, 'signatureAlgorithm'), checkSequence(merged.issuer, 'issuer')]) : this.prefix;
    const extras = req.extraExtensions ?? b.extraExtensions;
    const subjDer = req.subjectDer ?? b.subjectDer;
    const emptySubject = subjDer ? subjDer.length === 2 : req.subject.length === 0;
    const withSans = hasSans(req.sans);
    if (emptySubject && !withSans) throw malformed('empty subject needs subjectAltNames (RFC 5280 §4.1.2.6)');
    const spki = checkSequence(req.subjectPublicKeyInfo, 'subjectPublicKeyInfo');
    const keyBits = subjectPublicKeyBits(spki);

    const exts: Buffer[] = merged && dirty & 2 ? segment('A', merged) : [...this.segs.A];
    // SKI (§4.2.1.2 method 1): a SHA-1 is always 20 octets, so the Extension header is constant.
    if (req.subjectKeyId ?? b.subjectKeyId) exts.push(SKI_PREFIX, createHash('sha1').update(keyBits).digest());
    exts.push(...(merged && dirty & 4 ? segment('B', merged) : this.segs.B));
    if (withSans) exts.push(subjectAltNameExtension(req.sans, emptySubject));
    exts.push(...(merged && dirty & 8 ? segment('C', merged) : this.segs.C));
    if (extras?.length) {
      for (const e of extras) exts.push(checkSequence(e, 'extra extension'));
      assertUniqueExtensions(extensionList(exts));
    }

    const parts: Buffer[] = [
      VERSION_V3,
      serialDer(req.serial),
      prefix,
      fastValidity(req.notBefore, req.notAfter),
      subjDer ? checkSequence(subjDer, 'subject') : encodeName(req.subject),
      spki,
    ];
    if (exts.length) {
      let extLen = 0;
      for (const e of exts) extLen += e.length;
      const seqHdr = header(0x30, extLen);
      parts.push(header(0xa3, seqHdr.length + extLen), seqHdr, ...exts);
    }
    let len = 0;
    for (const p of parts) len += p.length;
    const tbsHdr = header(0x30, len);
    parts.unshift(tbsHdr);
    return Buffer.concat(parts, tbsHdr.length + len);
  }
}

/** 30 1d 06 03 55 1d 0e 04 16 04 14: SubjectKeyIdentifier Extension header for a 20-octet id. */
const SKI_PREFIX = subjectKeyIdentifierExtension(Buffer.alloc(20)).subarray(0, 11);

/** The template keeps the SKI header and hash as two buffers; rejoin them for the duplicate check. */
function extensionList(parts: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < parts.length; i++) out.push(parts[i] === SKI_PREFIX ? Buffer.concat([parts[i]!, parts[++i]!]) : parts[i]!);
  return out;
}

function mergeDefined(base: CertificateTemplateBase, req: CertificateTemplateRequest): TbsCertificateInput {
  const out = { ...base } as Record<string, unknown>;
  for (const k in req) if ((req as Record<string, unknown>)[k] !== undefined) out[k] = (req as Record<string, unknown>)[k];
  return out as unknown as TbsCertificateInput;
}

const p2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** Validity with both Times in one allocation; same bytes as seq(time(a), time(b)) (§4.1.2.5). */
function fastValidity(notBefore: Date, notAfter: Date): Buffer {
  const nb = notBefore?.getTime?.();
  const na = notAfter?.getTime?.();
  if (!Number.isFinite(nb) || !Number.isFinite(na)) throw malformed('notBefore/notAfter must be valid dates');
  if (na! < nb!) throw malformed('notAfter is before notBefore');
  const text = (d: Date) => {
    const y = d.getUTCFullYear();
    const rest = p2(d.getUTCMonth() + 1) + p2(d.getUTCDate()) + p2(d.getUTCHours()) + p2(d.getUTCMinutes()) + p2(d.getUTCSeconds()) + 'Z';
    return y >= 1950 && y < 2050 ? p2(y % 100) + rest : String(y).padStart(4, '0') + rest;
  };
  const a = text(notBefore);
  const c = text(notAfter);
  const out = Buffer.allocUnsafe(6 + a.length + c.length);
  out[0] = 0x30;
  out[1] = 4 + a.length + c.length;
  out[2] = a.length === 13 ? 0x17 : 0x18; // UTCTime : GeneralizedTime
  out[3] = a.length;
  out.write(a, 4, 'latin1');
  out[4 + a.length] = c.length === 13 ? 0x17 : 0x18;
  out[5 + a.length] = c.length;
  out.write(c, 6 + a.length, 'latin1');
  return out;
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function assembleCertificate(tbs: Uint8Array, signatureAlgorithm: Uint8Array, signature: Uint8Array): Buffer {
  return seq(checkSequence(tbs, 'tbsCertificate'), checkSequence(signatureAlgorithm, 'signatureAlgorithm'), bitString(signature));
}

// ---- parsing (pkijs/asn1js: not a hot path) -----------------------------------------------------

/** SHA-256 (default) or SHA-1 of the certificate DER, lower-case hex without separators. */
export function certificateFingerprint(der: Uint8Array, alg: 'sha256' | 'sha1' = 'sha256'): string {
  return createHash(alg).update(der).digest('hex');
}

/** Parses a certificate (DER or PEM "CERTIFICATE"); throws FlintError('malformed') on bad input. */
export function parseCertificate(input: Uint8Array | string): ParsedCertificate {
  try {
    return parseCertificateDer(derOrPem(input, 'CERTIFICATE'));
  } catch (e) {
    if (e instanceof FlintError) throw e;
    throw new FlintError('malformed', `not an X.509 certificate: ${(e as Error)?.message ?? e}`, { cause: e });
  }
}

function parseCertificateDer(der: Buffer): ParsedCertificate {
  const root = decodeAsn1(der, 'certificate');
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema: root });
  } catch (e) {
    throw new FlintError('malformed', `not an X.509 certificate: ${(e as Error)?.message ?? e}`, { cause: e });
  }
  const [tbsEl, sigAlgEl, sigEl] = kids(root);
  const tbsKids = kids(tbsEl);
  const f = isContext(tbsKids[0], 0) ? tbsKids.slice(1) : tbsKids; // version is OPTIONAL (v1)
  const [, , issuerEl, , subjectEl, spkiEl] = f;
  const extsEl = f.slice(6).find((e) => isContext(e, 3));

  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  for (const ext of kids(kids(extsEl)[0])) {
    const [idEl, second, third] = kids(ext);
    const id = oidOf(idEl);
    const valueEl = third ?? second;
    if (!id || !isUniversal(valueEl, 4)) throw malformed('malformed Extension');
    if (extensions.has(id)) throw malformed(`duplicate extension ${id} (RFC 5280 §4.2)`);
    extensions.set(id, { critical: third !== undefined && contentOf(second!)[0] !== 0, value: contentOf(valueEl!) });
  }
  const ext = (id: string) => extensions.get(id)?.value;
  const extEl = (id: string) => {
    const v = ext(id);
    return v ? decodeAsn1(v, `extension ${id}`) : undefined;
  };

  const spki = rawOf(spkiEl!);
  const { keyType, keyBits } = spkiKeyType(spki);
  const serial = Buffer.from(cert.serialNumber.valueBlock.valueHexView);
  const serialHex = (serial.length > 1 && serial[0] === 0 && serial[1]! & 0x80 ? serial.subarray(1) : serial).toString('hex');

  const bcKids = kids(extEl(EXTENSION_OIDS.basicConstraints));
  const isCA = isUniversal(bcKids[0], 1) && contentOf(bcKids[0]!)[0] !== 0;
  const pathLenEl = bcKids.find((k) => isUniversal(k, 2));
  const kuEl = extEl(EXTENSION_OIDS.keyUsage);
  const kuBits = kuEl && isUniversal(kuEl, 3) ? contentOf(kuEl) : undefined;
  const akiKids = kids(extEl(EXTENSION_OIDS.authorityKeyIdentifier));
  const akiKeyId = akiKids.find((k) => isContext(k, 0));
  const skiEl = extEl(EXTENSION_OIDS.subjectKeyIdentifier);
  const sanDer = ext(EXTENSION_OIDS.subjectAltName);
  const san = sanDer ? parseSubjectAltName(sanDer) : { sans: { dns: [], ip: [], email: [], uri: [] }, unsupported: [] };

  const out: ParsedCertificate = {
    der,
    serialHex,
    issuerDer: rawOf(issuerEl!),
    subjectDer: rawOf(subjectEl!),
    subject: nameFromAsn1(subjectEl!),
    issuer: nameFromAsn1(issuerEl!),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    subjectPublicKeyInfo: spki,
    keyType,
    keyBits,
    sans: san.sans,
    isCA,
    tbs: rawOf(tbsEl!),
    signatureAlgorithmOid: oidOf(kids(sigAlgEl)[0]) ?? '',
    signature: contentOf(sigEl!),
    extensions,
  };
  if (skiEl && isUniversal(skiEl, 4)) out.subjectKeyId = contentOf(skiEl);
  if (akiKeyId) out.authorityKeyId = contentOf(akiKeyId);
  const pathLen = pathLenEl ? contentOf(pathLenEl) : undefined;
  if (pathLen && pathLen.length >= 1 && pathLen.length <= 4) out.pathLen = pathLen.readUIntBE(0, pathLen.length);
  if (kuBits) out.keyUsage = KEY_USAGES.filter((_, i) => ((kuBits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) as KeyUsage[];
  const eku = kids(extEl(EXTENSION_OIDS.extKeyUsage)).map(oidOf).filter((o): o is string => !!o);
  if (extensions.has(EXTENSION_OIDS.extKeyUsage)) out.extKeyUsage = eku;
  if (san.unsupported.length) out.unsupportedSans = san.unsupported;
  return out;
}

/**
 * The serial number of a DER certificate, lower-case hex without the sign byte, read with the DER
 * header walker only (no pkijs): for per-request paths such as TLS client-certificate checks.
 */
export function certificateSerialHex(der: Uint8Array): string {
  try {
    const cert = readHeader(der, 0);
    const tbs = readHeader(der, cert.contentStart);
    let pos = tbs.contentStart;
    let h = readHeader(der, pos);
    if (h.tag === 0xa0) h = readHeader(der, (pos = h.end)); // [0] EXPLICIT version
    if (h.tag !== 0x02) throw new Error('no serial');
    let hex = Buffer.from(der.subarray(h.contentStart, h.end)).toString('hex');
    while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
    return hex;
  } catch (e) {
    throw new FlintError('malformed', `not a DER certificate: ${(e as Error).message}`);
  }
}
