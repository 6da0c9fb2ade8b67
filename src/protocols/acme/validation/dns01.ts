/** dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.NAME holding base64url(SHA-256(keyAuthorization)). */
import { createHash } from 'node:crypto';
import type { AcmeIdentifier } from '../../../store/acme-types.js';
import { AcmeError } from '../errors.js';
import type { NameResolver } from './resolve.js';

export function dns01Digest(keyAuthorization: string): string {
  return createHash('sha256').update(keyAuthorization).digest('base64url');
}

export async function validateDns01(id: AcmeIdentifier, keyAuthorization: string, resolver: NameResolver): Promise<void> {
  if (id.type !== 'dns') throw new AcmeError('malformed', 'dns-01 only validates DNS identifiers');
  const name = `_acme-challenge.${id.value.replace(/^\*\./, '')}`;
  const records = await resolver.txt(name);
  if (records.length === 0) throw new AcmeError('dns', `no TXT record found at ${name}`);
  if (!records.includes(dns01Digest(keyAuthorization))) throw new AcmeError('incorrectResponse', `no TXT record at ${name} matches the key authorization digest`);
}
