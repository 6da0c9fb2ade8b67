/**
 * tls-alpn-01 (RFC 8737): TLS to NAME:PORT with ALPN "acme-tls/1" and SNI NAME; the self-signed
 * certificate must name exactly the identifier and carry the critical acmeIdentifier extension
 * (1.3.6.1.5.5.7.1.31) with SHA-256(keyAuthorization).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import type { AcmeIdentifier } from '../../../store/acme-types.js';
import { AcmeError } from '../errors.js';
import type { NameResolver } from './resolve.js';

/** DER: OID 1.3.6.1.5.5.7.1.31, critical TRUE, extnValue OCTET STRING { OCTET STRING (32) }. */
const EXT_PREFIX = Buffer.from('06082b06010505070 11f0101ff04220420'.replace(/\s/g, ''), 'hex');

/** RFC 8738 §6: the SNI for an IP identifier is its reverse-DNS name. */
export function reverseName(ip: string): string {
  if (!ip.includes(':')) return ip.split('.').reverse().join('.') + '.in-addr.arpa';
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.') + '.ip6.arpa';
}

export async function validateTlsAlpn01(id: AcmeIdentifier, keyAuthorization: string, resolver: NameResolver, o: { port: number; timeoutMs?: number }): Promise<void> {
  const [addr] = await resolver.addresses(id);
  const servername = id.type === 'ip' ? reverseName(id.value) : id.value;
  const der = await new Promise<Buffer>((resolve, reject) => {
    const sock = connect({ host: addr, port: o.port, servername, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false, timeout: o.timeoutMs ?? 10_000 }, () => {
      const alpn = sock.alpnProtocol;
      const cert = sock.getPeerCertificate();
      sock.end();
      if (alpn !== 'acme-tls/1') return reject(new AcmeError('tls', 'tls-alpn-01: the server did not negotiate acme-tls/1'));
      if (!cert?.raw) return reject(new AcmeError('tls', 'tls-alpn-01: no certificate presented'));
      resolve(cert.raw);
    });
    sock.on('timeout', () => sock.destroy(new AcmeError('connection', 'tls-alpn-01: timeout')));
    sock.on('error', (e) => reject(e instanceof AcmeError ? e : new AcmeError('tls', `tls-alpn-01: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  });
  const x = new X509Certificate(der);
  const sans = (x.subjectAltName ?? '').split(', ').filter(Boolean);
  const want = id.type === 'ip' ? `IP Address:${id.value}` : `DNS:${id.value}`;
  if (sans.length !== 1 || sans[0]!.toLowerCase() !== want.toLowerCase()) throw new AcmeError('unauthorized', `tls-alpn-01: certificate must name exactly ${id.value}`);
  const i = der.indexOf(EXT_PREFIX);
  if (i < 0) throw new AcmeError('unauthorized', 'tls-alpn-01: no critical acmeIdentifier extension');
  const digest = der.subarray(i + EXT_PREFIX.length, i + EXT_PREFIX.length + 32);
  if (!digest.equals(createHash('sha256').update(keyAuthorization).digest())) throw new AcmeError('incorrectResponse', 'tls-alpn-01: acmeIdentifier does not match the key authorization');
}
