/** Identifier checks for newOrder and finalize (RFC 8555 §7.1.3/§7.4, RFC 8738 for IP). */
import { isIP } from 'node:net';
import type { AcmeIdentifier } from '../../store/acme-types.js';
import { ACME_ERROR_PREFIX, AcmeError, problem, type AcmeErrorType } from './errors.js';
import type { Problem } from './wire.js';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Canonical text form of an IP address (IPv6 compressed the way URL does it). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return ip;
}

/**
 * Parses newOrder identifiers. Every bad identifier is reported at once, each as a subproblem
 * naming it (§6.7.1); the top-level type is theirs when they agree, else `compound`.
 */
export function parseIdentifiers(v: unknown): AcmeIdentifier[] {
  if (!Array.isArray(v) || v.length === 0) throw new AcmeError('malformed', 'identifiers must be a non-empty array');
  if (v.length > 100) throw new AcmeError('rejectedIdentifier', 'at most 100 identifiers per order');
  const out: AcmeIdentifier[] = [];
  const seen = new Set<string>();
  const bad: NonNullable<Problem['subproblems']> = [];
  for (const raw of v) {
    if (typeof raw !== 'object' || raw === null || typeof (raw as AcmeIdentifier).value !== 'string' || typeof (raw as AcmeIdentifier).type !== 'string') {
      throw new AcmeError('malformed', 'each identifier needs a string type and value');
    }
    const { type, value } = raw as AcmeIdentifier;
    const refuse = (t: AcmeErrorType, detail: string) => bad.push({ ...problem(t, detail), identifier: { type, value } });
    let id: AcmeIdentifier;
    if (type === 'dns') {
      const name = value.toLowerCase().replace(/\.$/, '');
      const bare = name.startsWith('*.') ? name.slice(2) : name;
      if (isIP(bare) || name.length > 253 || !bare.split('.').every((l) => LABEL.test(l)) || !bare.includes('.') && bare !== 'localhost') {
        refuse('rejectedIdentifier', `${JSON.stringify(value)} is not a valid DNS name`);
        continue;
      }
      id = { type: 'dns', value: name };
    } else if (type === 'ip') {
      if (!isIP(value)) {
        refuse('malformed', `${JSON.stringify(value)} is not an IP address`);
        continue;
      }
      id = { type: 'ip', value: canonicalIp(value) };
    } else {
      refuse('unsupportedIdentifier', `identifier type ${JSON.stringify(type)} is not supported (dns, ip)`);
      continue;
    }
    const key = `${id.type}:${id.value}`;
    if (!seen.has(key)) (seen.add(key), out.push(id));
  }
  if (bad.length === 1) throw new AcmeError(bad[0]!.type.slice(ACME_ERROR_PREFIX.length) as AcmeErrorType, bad[0]!.detail, { subproblems: bad });
  if (bad.length > 1) {
    const types = new Set(bad.map((b) => b.type));
    const top = types.size === 1 ? (bad[0]!.type.slice(ACME_ERROR_PREFIX.length) as AcmeErrorType) : 'compound';
    throw new AcmeError(top, `${bad.length} identifiers are not acceptable: ${bad.map((b) => b.detail).join('; ')}`, { subproblems: bad });
  }
  return out;
}

export function identifierKeys(ids: AcmeIdentifier[]): string[] {
  return ids.map((i) => `${i.type}:${i.type === 'ip' ? canonicalIp(i.value) : i.value.toLowerCase()}`).sort();
}

/**
 * The "registered domain" certificates-per-domain limits count against. An internal CA has no
 * public suffix list: under a provisioner DNS suffix it is that suffix plus one label
 * (a.b.corp.example → b.corp.example for suffix corp.example), else the last two labels; an IP
 * address counts as itself.
 */
export function registeredDomain(id: AcmeIdentifier, suffixes: string[] = []): string {
  if (id.type === 'ip') return `ip:${canonicalIp(id.value)}`;
  const name = id.value.toLowerCase().replace(/^\*\./, '');
  const labels = name.split('.');
  const suffix = suffixes.filter((s) => name === s || name.endsWith(`.${s}`)).sort((x, y) => y.length - x.length)[0];
  const keep = suffix ? suffix.split('.').length + 1 : 2;
  return `dns:${labels.slice(-keep).join('.')}`;
}
