/** Identifier checks for newOrder and finalize (RFC 8555 §7.1.3/§7.4, RFC 8738 for IP). */
import { isIP } from 'node:net';
import type { AcmeIdentifier } from '../../store/acme-types.js';
import { AcmeError } from './errors.js';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Canonical text form of an IP address (IPv6 compressed the way URL does it). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return ip;
}

export function parseIdentifiers(v: unknown): AcmeIdentifier[] {
  if (!Array.isArray(v) || v.length === 0) throw new AcmeError('malformed', 'identifiers must be a non-empty array');
  if (v.length > 100) throw new AcmeError('rejectedIdentifier', 'at most 100 identifiers per order');
  const out: AcmeIdentifier[] = [];
  const seen = new Set<string>();
  for (const raw of v) {
    if (typeof raw !== 'object' || raw === null || typeof (raw as AcmeIdentifier).value !== 'string') throw new AcmeError('malformed', 'each identifier needs a type and a string value');
    const { type, value } = raw as AcmeIdentifier;
    let id: AcmeIdentifier;
    if (type === 'dns') {
      const name = value.toLowerCase().replace(/\.$/, '');
      const bare = name.startsWith('*.') ? name.slice(2) : name;
      if (isIP(bare) || name.length > 253 || !bare.split('.').every((l) => LABEL.test(l)) || !bare.includes('.') && bare !== 'localhost') {
        throw new AcmeError('rejectedIdentifier', `${JSON.stringify(value)} is not a valid DNS name`);
      }
      id = { type: 'dns', value: name };
    } else if (type === 'ip') {
      if (!isIP(value)) throw new AcmeError('malformed', `${JSON.stringify(value)} is not an IP address`);
      id = { type: 'ip', value: canonicalIp(value) };
    } else {
      throw new AcmeError('unsupportedIdentifier', `identifier type ${JSON.stringify(type)} is not supported (dns, ip)`);
    }
    const key = `${id.type}:${id.value}`;
    if (!seen.has(key)) (seen.add(key), out.push(id));
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
