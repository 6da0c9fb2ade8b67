/**
 * Distinguished names (RFC 5280 §4.1.2.4, §4.1.2.6; attribute syntaxes from RFC 5280 Appendix A
 * and RFC 4519), plus the small asn1js reading helpers the other pki/ parsers share.
 *
 *   Name ::= CHOICE { rdnSequence RDNSequence }
 *   RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
 *   RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 *   AttributeTypeAndValue ::= SEQUENCE { type AttributeType, value AttributeValue }
 *   AttributeType ::= OBJECT IDENTIFIER
 *   AttributeValue ::= ANY -- DEFINED BY AttributeType
 *
 * We emit one attribute per RDN, in the order given. DirectoryString attributes are UTF8String
 * (RFC 5280 §4.1.2.6: "CAs MUST use UTF8String" for new names); countryName and serialNumber are
 * PrintableString (Appendix A: X520countryName, X520SerialNumber); emailAddress (PKCS#9) and
 * domainComponent (RFC 4519 §2.4) are IA5String.
 */
import * as asn1js from 'asn1js';
import { FlintError, type ErrorKind } from '../errors/index.js';
import { TAG, oid } from './der.js';
import type { NameAttribute } from './types.js';

type Syntax = 'utf8' | 'printable' | 'ia5' | 'country' | 'serial';

/** Short name → [OID, encoding]. Short names follow OpenSSL / RFC 4514 §3 where one exists. */
const ATTRS: Record<string, [string, Syntax]> = {
  CN: ['2.5.4.3', 'utf8'],
  SN: ['2.5.4.4', 'utf8'], // surname
  serialNumber: ['2.5.4.5', 'serial'],
  C: ['2.5.4.6', 'country'],
  L: ['2.5.4.7', 'utf8'],
  ST: ['2.5.4.8', 'utf8'],
  street: ['2.5.4.9', 'utf8'],
  O: ['2.5.4.10', 'utf8'],
  OU: ['2.5.4.11', 'utf8'],
  title: ['2.5.4.12', 'utf8'],
  postalCode: ['2.5.4.17', 'utf8'],
  GN: ['2.5.4.42', 'utf8'], // givenName
  organizationIdentifier: ['2.5.4.97', 'utf8'],
  emailAddress: ['1.2.840.113549.1.9.1', 'ia5'],
  DC: ['0.9.2342.19200300.100.1.25', 'ia5'],
  UID: ['0.9.2342.19200300.100.1.1', 'utf8'],
};

/** Short name → OID for every attribute type we know by name. */
export const NAME_ATTRIBUTE_OIDS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(ATTRS).map(([k, [o]]) => [k, o])),
);
const BY_LOWER = new Map(Object.entries(ATTRS).map(([k, v]) => [k.toLowerCase(), [k, ...v] as const]));
const BY_OID = new Map(Object.entries(ATTRS).map(([k, [o]]) => [o, k]));
const DOTTED = /^[0-2](?:\.(?:0|[1-9]\d*))+$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/; // X.680 §41.4 PrintableString
const IA5 = /^[\x00-\x7f]+$/;

function malformed(detail: string): FlintError {
  return new FlintError('malformed', detail);
}

/** Encodes one AttributeTypeAndValue inside its own single-element RDN SET. */
function encodeRdn(a: NameAttribute): Buffer {
  if (typeof a?.type !== 'string' || typeof a.value !== 'string') throw malformed('name attribute needs a string type and value');
  const known = BY_LOWER.get(a.type.toLowerCase());
  if (!known && !DOTTED.test(a.type)) throw malformed(`unknown name attribute type "${a.type}" (use a short name or a dotted OID)`);
  const [name, attrOid, syntax] = known ?? [a.type, a.type, 'utf8' as Syntax];
  const v = a.value;
  if (v.length === 0) throw malformed(`name attribute ${name} is empty`);
  let tag: number = TAG.UTF8_STRING;
  let bytes: Buffer;
  switch (syntax) {
    case 'country':
      if (!/^[A-Za-z]{2}$/.test(v)) throw malformed(`countryName must be a two-letter ISO 3166 code, got "${v}"`);
      tag = TAG.PRINTABLE_STRING;
      bytes = Buffer.from(v, 'latin1');
      break;
    case 'serial':
      // X520SerialNumber is PrintableString; values outside that charset (seen in device CSRs)
      // fall back to UTF8String rather than being mangled.
      if (PRINTABLE.test(v)) tag = TAG.PRINTABLE_STRING;
      bytes = Buffer.from(v, tag === TAG.PRINTABLE_STRING ? 'latin1' : 'utf8');
      break;
    case 'printable':
      if (!PRINTABLE.test(v)) throw malformed(`${name} "${v}" is not a PrintableString`);
      tag = TAG.PRINTABLE_STRING;
      bytes = Buffer.from(v, 'latin1');
      break;
    case 'ia5':
      if (!IA5.test(v)) throw malformed(`${name} "${v}" must be ASCII (IA5String)`);
      tag = TAG.IA5_STRING;
      bytes = Buffer.from(v, 'latin1');
      break;
    default:
      bytes = Buffer.from(v, 'utf8');
  }
  // SET { SEQUENCE { type, value } }: a single-element SET OF needs no DER sorting (X.690 §11.6).
  // Written with one concat: this runs per certificate on the issuance hot path.
  const o = oid(attrOid);
  const vh = tagHeader(tag, bytes.length);
  const atvLen = o.length + vh.length + bytes.length;
  const sh = tagHeader(TAG.SEQUENCE, atvLen);
  return Buffer.concat([tagHeader(TAG.SET, sh.length + atvLen), sh, o, vh, bytes]);
}

/** Tag octet + definite length octets (X.690 §8.1.3) for `len` content octets (< 2^24). */
export function tagHeader(tag: number, len: number): Buffer {
  if (len < 0x80) return Buffer.from([tag, len]);
  if (len < 0x100) return Buffer.from([tag, 0x81, len]);
  if (len < 0x10000) return Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  if (len < 0x1000000) return Buffer.from([tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  // Four length octets reach 4 GiB, past anything a Buffer or a CA builds.
  return Buffer.from([tag, 0x84, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
}

/** NameAttribute[] → Name DER (RDNSequence, one attribute per RDN). Empty → `30 00`. */
export function encodeName(attrs: readonly NameAttribute[]): Buffer {
  if (!Array.isArray(attrs)) throw malformed('name must be a list of attributes');
  const rdns = attrs.map(encodeRdn);
  let len = 0;
  for (const r of rdns) len += r.length;
  const h = tagHeader(TAG.SEQUENCE, len);
  rdns.unshift(h);
  return Buffer.concat(rdns, h.length + len);
}

// ---- asn1js reading helpers shared by name, extensions, certificate and csr parsing ----------

/**
 * Decodes one complete BER/DER element with asn1js; rejects empty input, decoding errors and
 * trailing bytes. Never throws anything but FlintError(kind).
 */
export function decodeAsn1(der: Uint8Array, what: string, kind: ErrorKind = 'malformed'): asn1js.AsnType {
  if (!(der instanceof Uint8Array) || der.byteLength === 0) throw new FlintError(kind, `${what}: empty input`);
  let res: asn1js.FromBerResult;
  try {
    res = asn1js.fromBER(der);
  } catch (e) {
    throw new FlintError(kind, `${what}: not valid DER (${(e as Error)?.message ?? e})`, { cause: e });
  }
  if (res.offset === -1 || res.result.error) {
    throw new FlintError(kind, `${what}: not valid DER (${res.result.error || 'decoding failed'})`);
  }
  if (res.offset !== der.byteLength) {
    throw new FlintError(kind, `${what}: ${der.byteLength - res.offset} bytes of trailing data after the DER element`);
  }
  if (hasIndefiniteLength(res.result)) throw new FlintError(kind, `${what}: indefinite length is not DER (X.690 §10.1)`);
  return res.result;
}

function hasIndefiniteLength(el: asn1js.AsnType): boolean {
  if ((el as asn1js.BaseBlock).lenBlock?.isIndefiniteForm) return true;
  for (const k of kids(el)) if (hasIndefiniteLength(k)) return true;
  return false;
}

/** Child elements of a constructed element (empty for primitives). */
export function kids(el: asn1js.AsnType | undefined): asn1js.AsnType[] {
  const v = (el as asn1js.BaseBlock | undefined)?.valueBlock as { value?: unknown } | undefined;
  return el && (el as asn1js.BaseBlock).idBlock.isConstructed && Array.isArray(v?.value) ? (v!.value as asn1js.AsnType[]) : [];
}

/** The exact encoded bytes of an element as they appeared in the input. */
export const rawOf = (el: asn1js.AsnType): Buffer => Buffer.from((el as asn1js.BaseBlock).valueBeforeDecodeView);

/** The content octets of a primitive element. */
export function contentOf(el: asn1js.AsnType): Buffer {
  const v = (el as asn1js.BaseBlock).valueBlock as { valueHexView?: Uint8Array };
  return Buffer.from(v.valueHexView ?? new Uint8Array(0));
}

/** Tag test: universal tag number (class 1) or context tag [n] (class 3). */
export function isUniversal(el: asn1js.AsnType | undefined, tag: number): boolean {
  const id = (el as asn1js.BaseBlock | undefined)?.idBlock;
  return !!id && id.tagClass === 1 && id.tagNumber === tag;
}
export function isContext(el: asn1js.AsnType | undefined, n: number): boolean {
  const id = (el as asn1js.BaseBlock | undefined)?.idBlock;
  return !!id && id.tagClass === 3 && id.tagNumber === n;
}

/** Dotted OID of an OBJECT IDENTIFIER element, or undefined. */
export function oidOf(el: asn1js.AsnType | undefined): string | undefined {
  return el instanceof asn1js.ObjectIdentifier ? el.valueBlock.toString() : undefined;
}

/** The text of any ASN.1 character string (DirectoryString, IA5String, ...), or undefined. */
export function stringOf(el: asn1js.AsnType | undefined): string | undefined {
  return el instanceof asn1js.BaseStringBlock ? el.getValue() : undefined;
}

// ---- parsing ----------------------------------------------------------------------------------

/** Name element (already decoded) → attributes, flattening multi-valued RDNs in order. */
export function nameFromAsn1(el: asn1js.AsnType, kind: ErrorKind = 'malformed'): NameAttribute[] {
  if (!isUniversal(el, 16)) throw new FlintError(kind, 'Name is not a SEQUENCE');
  const out: NameAttribute[] = [];
  for (const rdn of kids(el)) {
    const atvs = kids(rdn);
    if (!isUniversal(rdn, 17) || atvs.length === 0) throw new FlintError(kind, 'RelativeDistinguishedName is not a non-empty SET');
    for (const atv of atvs) {
      const [t, v, extra] = kids(atv);
      const type = oidOf(t);
      if (!isUniversal(atv, 16) || !type || !v || extra) throw new FlintError(kind, 'malformed AttributeTypeAndValue in Name');
      const text = stringOf(v);
      // RFC 4514 §2.4: values that are not strings are shown as '#' + hex of their BER encoding.
      out.push({ type: BY_OID.get(type) ?? type, value: text ?? '#' + rawOf(v).toString('hex') });
    }
  }
  return out;
}

/** Name DER → attributes (short names for known OIDs, dotted OID otherwise). */
export function parseName(der: Uint8Array): NameAttribute[] {
  return nameFromAsn1(decodeAsn1(der, 'Name'));
}

function escapeRdnValue(v: string): string {
  // RFC 4514 §2.4
  let s = v.replace(/[\\"+,;<>]/g, (c) => '\\' + c).replace(/\0/g, '\\00');
  if (s.startsWith('#') || s.startsWith(' ')) s = '\\' + s;
  if (s.endsWith(' ') && s.length > 1) s = s.slice(0, -1) + '\\ ';
  return s;
}

/**
 * RFC 4514-style string for logs and listings: last RDN first, comma-separated, special
 * characters escaped (e.g. `CN=www.example.com,O=Example,C=US`).
 */
export function nameToString(name: readonly NameAttribute[] | Uint8Array): string {
  const attrs = name instanceof Uint8Array ? parseName(name) : name;
  return [...attrs].reverse().map((a) => `${a.type}=${escapeRdnValue(a.value)}`).join(',');
}
