/** Name resolution for validation: the configured resolver (--acme-dns-resolver HOST:PORT) or the system's. */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { AcmeIdentifier } from '../../../store/acme-types.js';
import { AcmeError } from '../errors.js';

export interface NameResolver {
  /** Addresses to connect to for an identifier (IP identifiers resolve to themselves). */
  addresses(id: AcmeIdentifier): Promise<string[]>;
  txt(name: string): Promise<string[]>;
}

export function makeResolver(server?: string, timeoutMs = 5000): NameResolver {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) r.setServers([server]);
  return {
    async addresses(id) {
      if (id.type === 'ip' || isIP(id.value)) return [id.value];
      const [v4, v6] = await Promise.all([r.resolve4(id.value).catch(() => [] as string[]), r.resolve6(id.value).catch(() => [] as string[])]);
      const all = [...v4, ...v6];
      if (all.length === 0) throw new AcmeError('dns', `no A or AAAA records for ${id.value}`);
      return all;
    },
    async txt(name) {
      try {
        return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
        throw new AcmeError('dns', `TXT lookup for ${name} failed: ${code ?? 'error'}`);
      }
    },
  };
}
