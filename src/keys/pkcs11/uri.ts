/**
 * PKCS#11 URIs (RFC 7512) naming our keys: `pkcs11:token=<label>;object=<key label>;type=private`.
 */
import { FlintError } from '../../errors/index.js';

/** pk11-pchar minus pct-encoded (RFC 7512 §2.3): everything else in a path value is percent-encoded. */
const PK11_PCHAR = /^[A-Za-z0-9\-._~:[\]@!$'()*+,=&]$/;

function pctEncode(value: string): string {
  let out = '';
  for (const b of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && PK11_PCHAR.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function pkcs11Uri(token: string, object: string): string {
  return `pkcs11:token=${pctEncode(token)};object=${pctEncode(object)};type=private`;
}

export interface ParsedPkcs11Uri {
  token?: string;
  object?: string;
  type?: string;
  id?: Buffer;
}

/**
 * Parses the path attributes of an RFC 7512 URI. The query (pin-value, pin-source, module-path)
 * is ignored and never echoed: PINs come from configuration, not from key URIs.
 */
export function parsePkcs11Uri(uri: string): ParsedPkcs11Uri {
  if (!/^pkcs11:/i.test(uri)) throw new FlintError('invalidConfig', 'not a PKCS#11 URI (RFC 7512): must start with "pkcs11:"');
  const path = uri.slice(7).split('?')[0]!;
  const attrs = new Map<string, string>();
  for (const part of path.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    // §2.3: "An attribute MUST NOT appear more than once in the PKCS #11 URI path."
    if (eq < 0 || attrs.has(name)) throw new FlintError('invalidConfig', `malformed PKCS#11 URI attribute "${name}"`);
    let value: string;
    try {
      value = name === 'id' ? part.slice(eq + 1) : decodeURIComponent(part.slice(eq + 1));
    } catch {
      throw new FlintError('invalidConfig', `malformed percent-encoding in PKCS#11 URI attribute "${name}"`);
    }
    attrs.set(name, value);
  }
  const id = attrs.get('id');
  return { token: attrs.get('token'), object: attrs.get('object'), type: attrs.get('type'), id: id === undefined ? undefined : pctDecodeBytes(id) };
}

/** CKA_ID is binary: decode %XX to bytes without UTF-8 interpretation. */
function pctDecodeBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') {
      out.push(...Buffer.from(s[i]!, 'utf8'));
      continue;
    }
    const h = s.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new FlintError('invalidConfig', 'malformed percent-encoding in PKCS#11 URI attribute "id"');
    out.push(parseInt(h, 16));
    i += 2;
  }
  return Buffer.from(out);
}
