/**
 * Expected Name DER from OpenSSL 3.0.19 (2026-11-22), default string_mask utf8only:
 *   openssl req -new -x509 -subj "/C=US/ST=California/O=Flint Test/OU=PKI/CN=Flint Root/emailAddress=pki@example.com"
 *   openssl req -new -x509 -utf8 -subj "/DC=com/DC=example/serialNumber=ABC-123/UID=jdoe/L=Zürich/CN=José Núñez"
 * (subject field sliced out of the certificate unchanged).
 */
import { describe, expect, it } from 'vitest';
import { encodeName, nameToString, parseName, tagHeader } from '../../../src/pki/name.js';
import { FlintError } from '../../../src/errors/index.js';
import type { NameAttribute } from '../../../src/pki/types.js';

const ROOT: NameAttribute[] = [
  { type: 'C', value: 'US' }, { type: 'ST', value: 'California' }, { type: 'O', value: 'Flint Test' },
  { type: 'OU', value: 'PKI' }, { type: 'CN', value: 'Flint Root' }, { type: 'emailAddress', value: 'pki@example.com' },
];
const ROOT_DER =
  '307a310b30090603550406130255533113301106035504080c0a43616c69666f726e696131133011060355040a0c0a466c696e742054657374310c300a060355040b0c03504b493113301106035504030c0a466c696e7420526f6f74311e301c06092a864886f70d010901160f706b69406578616d706c652e636f6d';
const DC: NameAttribute[] = [
  { type: 'DC', value: 'com' }, { type: 'DC', value: 'example' }, { type: 'serialNumber', value: 'ABC-123' },
  { type: 'UID', value: 'jdoe' }, { type: 'L', value: 'Zürich' }, { type: 'CN', value: 'José Núñez' },
];
const DC_DER =
  '30818031133011060a0992268993f22c6401191603636f6d31173015060a0992268993f22c64011916076578616d706c653110300e060355040513074142432d31323331143012060a0992268993f22c6401010c046a646f653110300e06035504070c075ac3bc726963683116301406035504030c0d4a6f73c3a9204ec3bac3b1657a';

describe('name', () => {
  it('encodes like OpenSSL: C PrintableString, emailAddress/DC IA5String, serialNumber PrintableString, rest UTF8String', () => {
    expect(encodeName(ROOT).toString('hex')).toBe(ROOT_DER);
    expect(encodeName(DC).toString('hex')).toBe(DC_DER);
    expect(encodeName([]).toString('hex')).toBe('3000');
  });

  it('parses back to short names, dotted OIDs for unknown types', () => {
    expect(parseName(Buffer.from(ROOT_DER, 'hex'))).toEqual(ROOT);
    expect(parseName(Buffer.from(DC_DER, 'hex'))).toEqual(DC);
    const custom = encodeName([{ type: '1.3.6.1.4.1.99999.7', value: 'x' }, { type: 'cn', value: 'lower-case type' }]);
    expect(parseName(custom)).toEqual([{ type: '1.3.6.1.4.1.99999.7', value: 'x' }, { type: 'CN', value: 'lower-case type' }]);
  });

  it('formats RFC 4514-style, last RDN first, escaping specials', () => {
    expect(nameToString(ROOT)).toBe('emailAddress=pki@example.com,CN=Flint Root,OU=PKI,O=Flint Test,ST=California,C=US');
    expect(nameToString(Buffer.from(DC_DER, 'hex'))).toBe('CN=José Núñez,L=Zürich,UID=jdoe,serialNumber=ABC-123,DC=example,DC=com');
    expect(nameToString([{ type: 'O', value: 'Acme, Inc.' }, { type: 'CN', value: '#1 "best" ' }])).toBe('CN=\\#1 \\"best\\"\\ ,O=Acme\\, Inc.');
  });

  it('rejects bad attributes with FlintError malformed', () => {
    for (const bad of [[{ type: 'C', value: 'USA' }], [{ type: 'XX', value: 'v' }], [{ type: 'CN', value: '' }], [{ type: 'DC', value: 'exämple' }]]) {
      expect(() => encodeName(bad), JSON.stringify(bad)).toThrow(FlintError);
    }
  });

  it('never throws anything but FlintError on garbage', () => {
    for (const g of ['', '00', '3003020100', '3005310330010a', '30', '3080', '300231', 'ffffffff']) {
      expect(() => parseName(Buffer.from(g, 'hex')), g).toThrow(FlintError);
    }
  });
});

describe('tagHeader (DER definite lengths, X.690 §8.1.3)', () => {
  it('uses the fewest length octets, up to four', () => {
    expect(tagHeader(0x30, 0x7f).toString('hex')).toBe('307f');
    expect(tagHeader(0x30, 0x80).toString('hex')).toBe('308180');
    expect(tagHeader(0x30, 0xffff).toString('hex')).toBe('3082ffff');
    expect(tagHeader(0x30, 0xffffff).toString('hex')).toBe('3083ffffff');
    expect(tagHeader(0x30, 0x1000000).toString('hex')).toBe('308401000000'); // 16 MiB: four octets, not a truncated three
  });
});
