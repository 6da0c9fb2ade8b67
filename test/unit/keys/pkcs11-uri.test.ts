import { describe, expect, it } from 'vitest';
import { parsePkcs11Uri, pkcs11Uri } from '../../../src/keys/index.js';

describe('RFC 7512 key URIs', () => {
  it('formats token, object and type, percent-encoding what is not a pk11-pchar', () => {
    expect(pkcs11Uri('flintca', 'issuing-2026')).toBe('pkcs11:token=flintca;object=issuing-2026;type=private');
    expect(pkcs11Uri('my token', 'a;b/c?d%e')).toBe('pkcs11:token=my%20token;object=a%3Bb%2Fc%3Fd%25e;type=private');
    expect(pkcs11Uri('t', 'ü')).toBe('pkcs11:token=t;object=%C3%BC;type=private');
    expect(pkcs11Uri('t', "k:[x]@!$'()*+,=&")).toBe("pkcs11:token=t;object=k:[x]@!$'()*+,=&;type=private");
  });
  it('parses what it formats, and RFC 7512 examples', () => {
    for (const label of ['plain', 'CA key; 2/ü%', '=;?&']) expect(parsePkcs11Uri(pkcs11Uri('tok en', label))).toMatchObject({ token: 'tok en', object: label, type: 'private' });
    expect(parsePkcs11Uri('pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;object=my-key;type=private?pin-value=secret')).toEqual({
      token: 'The Software PKCS#11 Softtoken',
      object: 'my-key',
      type: 'private',
      id: undefined,
    });
    expect(parsePkcs11Uri('pkcs11:object=k;id=%01%02').id).toEqual(Buffer.from([1, 2]));
  });
  it('rejects malformed URIs without echoing the query', () => {
    expect(() => parsePkcs11Uri('file:k')).toThrow(/PKCS#11 URI/);
    expect(() => parsePkcs11Uri('pkcs11:object=a;object=b')).toThrow(/object/);
    expect(() => parsePkcs11Uri('pkcs11:object=%zz')).toThrow(/percent/);
    try {
      parsePkcs11Uri('pkcs11:object?pin-value=hunter2');
    } catch (e) {
      expect(String(e)).not.toContain('hunter2');
    }
  });
});
