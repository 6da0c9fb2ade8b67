/**
 * apply(profile, request): the pure policy decision. Returns a Draft with everything the
 * certificate will say, or throws FlintError('profileViolation') listing EVERY reason at once.
 */
import { BlockList, isIP } from 'node:net';
import { FlintError } from '../errors/index.js';
import type { KeyType, SignatureAlgorithm } from '../pki/algorithms.js';
import type { KeyUsage, NameAttribute, ParsedCsr, SubjectAltNames } from '../pki/types.js';
import type { Profile, Protocol } from './schema.js';

export interface ProfileRequest {
  csr: ParsedCsr;
  protocol: Protocol;
  /** ACME provisioner / EST or SCEP label the request came through. */
  provisioner?: string;
  now: Date;
  notBefore?: Date;
  notAfter?: Date;
}

export interface Draft {
  profile: string;
  subject: NameAttribute[];
  sans: SubjectAltNames;
  subjectPublicKeyInfo: Buffer;
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
  keyUsage: KeyUsage[];
  extKeyUsage: string[];
  basicConstraints: { ca: boolean; pathLen?: number };
  mustStaple: boolean;
  ocspNoCheck: boolean;
  policies: string[];
  crl: boolean;
  deltaCrl: boolean;
  ocsp: boolean;
  caIssuers: boolean;
  signatureAlgorithm?: SignatureAlgorithm;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function isValidDnsName(name: string, allowWildcard: boolean): boolean {
  if (name.length === 0 || name.length > 253 || name.endsWith('.')) return false;
  const labels = name.split('.');
  if (labels.length < 2 && !allowWildcard) return labels.length === 1 && LABEL.test(labels[0]!);
  return labels.every((l, i) => (i === 0 && allowWildcard && l === '*') || LABEL.test(l));
}

function dnsSuffixMatches(name: string, suffix: string): boolean {
  const s = suffix.toLowerCase();
  if (s.startsWith('.')) return name.endsWith(s);
  return name === s || name.endsWith('.' + s);
}

const blockListCache = new WeakMap<readonly string[], BlockList>();

function rangesBlockList(ranges: readonly string[]): BlockList {
  let bl = blockListCache.get(ranges);
  if (!bl) {
    bl = new BlockList();
    for (const r of ranges) {
      const [addr, bits] = r.split('/');
      const type = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
      bl.addSubnet(addr!, Number(bits), type);
    }
    blockListCache.set(ranges, bl);
  }
  return bl;
}

export function ipInRanges(ip: string, ranges: readonly string[]): boolean {
  const v = isIP(ip);
  if (!v) return false;
  return rangesBlockList(ranges).check(ip, v === 6 ? 'ipv6' : 'ipv4');
}

function checkKey(profile: Profile, csr: ParsedCsr, reasons: string[]): void {
  const kt = profile.keyTypes;
  if (csr.keyType === 'unsupported') {
    reasons.push(`key type or size not supported (${csr.keyBits} bits)`);
  } else if (csr.keyType.startsWith('RSA')) {
    if (!kt.rsa) reasons.push('RSA keys are not allowed by this profile');
    else if (csr.keyBits < kt.rsa.minBits || csr.keyBits > kt.rsa.maxBits)
      reasons.push(`RSA key of ${csr.keyBits} bits outside the allowed ${kt.rsa.minBits}–${kt.rsa.maxBits}`);
  } else if (csr.keyType === 'Ed25519') {
    if (!kt.ed25519) reasons.push('Ed25519 keys are not allowed by this profile');
  } else if (!kt.ec || !kt.ec.curves.includes(csr.keyType as 'P-256' | 'P-384')) {
    reasons.push(`EC curve ${csr.keyType} is not allowed by this profile`);
  }
}

function checkSans(profile: Profile, sans: SubjectAltNames, reasons: string[]): void {
  const r = profile.sans;
  const total = sans.dns.length + sans.ip.length + sans.email.length + sans.uri.length;
  if (total > r.maxNames) reasons.push(`${total} names exceed the maximum of ${r.maxNames}`);
  if (r.requireOne && total === 0) reasons.push('at least one subject alternative name is required');
  for (const name of sans.dns) {
    if (!r.dns.allowed) {
      reasons.push(`DNS name ${name}: DNS names are not allowed`);
      continue;
    }
    const wildcard = name.startsWith('*.');
    if (wildcard && !r.dns.wildcards) reasons.push(`DNS name ${name}: wildcards are not allowed`);
    if (!isValidDnsName(name, wildcard)) {
      reasons.push(`DNS name ${name}: not a valid host name`);
      continue;
    }
    const bare = wildcard ? name.slice(2) : name;
    const hasRules = r.dns.suffixes.length > 0 || r.dns.patterns.length > 0;
    const ok = !hasRules || r.dns.suffixes.some((s) => dnsSuffixMatches(bare, s)) || r.dns.patterns.some((p) => new RegExp(`^(?:${p})$`).test(name));
    if (!ok) reasons.push(`DNS name ${name}: outside the allowed names (${[...r.dns.suffixes, ...r.dns.patterns].join(', ')})`);
  }
  for (const ip of sans.ip) {
    if (!r.ip.allowed) reasons.push(`IP address ${ip}: IP addresses are not allowed`);
    else if (!isIP(ip)) reasons.push(`IP address ${ip}: not a valid address`);
    else if (r.ip.ranges.length > 0 && !ipInRanges(ip, r.ip.ranges)) reasons.push(`IP address ${ip}: outside the allowed ranges (${r.ip.ranges.join(', ')})`);
  }
  for (const email of sans.email) {
    const at = email.lastIndexOf('@');
    const domain = at > 0 ? email.slice(at + 1).toLowerCase() : '';
    if (!r.email.allowed) reasons.push(`email ${email}: email addresses are not allowed`);
    else if (!domain) reasons.push(`email ${email}: not a valid address`);
    else if (r.email.domains.length > 0 && !r.email.domains.some((d) => dnsSuffixMatches(domain, d)))
      reasons.push(`email ${email}: domain outside ${r.email.domains.join(', ')}`);
  }
  for (const uri of sans.uri) {
    let scheme = '';
    try {
      scheme = new URL(uri).protocol.replace(/:$/, '');
    } catch {
      /* invalid */
    }
    if (!r.uri.allowed) reasons.push(`URI ${uri}: URIs are not allowed`);
    else if (!scheme) reasons.push(`URI ${uri}: not a valid URI`);
    else if (r.uri.schemes.length > 0 && !r.uri.schemes.includes(scheme)) reasons.push(`URI ${uri}: scheme ${scheme} not allowed (${r.uri.schemes.join(', ')})`);
  }
}

function buildSubject(profile: Profile, csr: ParsedCsr, sans: SubjectAltNames, reasons: string[]): NameAttribute[] {
  const s = profile.subject;
  const kept = csr.subject.filter((a) => s.keep.includes(a.type) && !(a.type in s.template));
  const subject: NameAttribute[] = [...Object.entries(s.template).map(([type, value]) => ({ type, value })), ...kept];
  const cn = subject.find((a) => a.type === 'CN');
  if (!cn && s.commonNameFromSan && sans.dns.length > 0) subject.push({ type: 'CN', value: sans.dns[0]! });
  if (cn && s.commonNameFromSan) {
    const all = [...sans.dns, ...sans.ip];
    if (!all.includes(cn.value.toLowerCase())) reasons.push(`common name ${cn.value} is not one of the subject alternative names`);
  }
  if (s.requireCommonName && !subject.some((a) => a.type === 'CN')) reasons.push('a common name (CN) is required');
  for (const a of subject) if (a.type === 'CN' && a.value.length > 64) reasons.push('common name longer than 64 characters (RFC 5280 ub-common-name)');
  return subject;
}

function normalizeSans(sans: SubjectAltNames): SubjectAltNames {
  return {
    dns: [...new Set(sans.dns.map((d) => d.toLowerCase()))],
    ip: [...new Set(sans.ip)],
    email: [...new Set(sans.email)],
    uri: [...new Set(sans.uri)],
  };
}

export function apply(profile: Profile, req: ProfileRequest): Draft {
  const reasons: string[] = [];
  if (!profile.protocols.includes(req.protocol)) reasons.push(`profile ${profile.name} is not available to ${req.protocol}`);
  if (req.provisioner && !profile.provisioners.includes('*') && !profile.provisioners.includes(req.provisioner))
    reasons.push(`profile ${profile.name} is not available to provisioner ${req.provisioner}`);
  checkKey(profile, req.csr, reasons);
  const sans = normalizeSans(req.csr.sans);
  checkSans(profile, sans, reasons);
  const subject = buildSubject(profile, req.csr, sans, reasons);

  const now = req.now.getTime();
  const notBefore = req.notBefore ?? new Date(now - profile.validity.backdate);
  const notAfter = req.notAfter ?? new Date(now + profile.validity.default);
  if (notAfter.getTime() <= notBefore.getTime()) reasons.push('notAfter must be later than notBefore');
  if (notAfter.getTime() - now > profile.validity.max) reasons.push(`requested validity exceeds the profile maximum of ${Math.round(profile.validity.max / 3_600_000)}h`);
  if (notBefore.getTime() < now - profile.validity.backdate - 1000) reasons.push('notBefore lies further in the past than the profile allows');

  if (reasons.length > 0) {
    throw new FlintError('profileViolation', `request violates profile ${profile.name}: ${reasons.join('; ')}`, { reasons, code: 'profile.violation' });
  }
  return {
    profile: profile.name,
    subject,
    sans,
    subjectPublicKeyInfo: req.csr.subjectPublicKeyInfo,
    keyType: req.csr.keyType as KeyType,
    notBefore,
    notAfter,
    // Key encipherment/agreement only make sense for the key family that can do them (RFC 5480 §3, RFC 4055).
    keyUsage: profile.keyUsage.filter((u) => (req.csr.keyType.startsWith('RSA') ? u !== 'keyAgreement' : u !== 'keyEncipherment' && u !== 'dataEncipherment')),
    extKeyUsage: [...profile.extKeyUsage],
    basicConstraints: { ...profile.basicConstraints },
    mustStaple: profile.mustStaple,
    ocspNoCheck: profile.ocspNoCheck,
    policies: [...profile.policies],
    crl: profile.crl,
    deltaCrl: profile.deltaCrl,
    ocsp: profile.ocsp,
    caIssuers: profile.caIssuers,
    signatureAlgorithm: profile.signatureAlgorithm,
  };
}
