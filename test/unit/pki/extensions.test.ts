/**
 * Byte-for-byte checks of every extension encoder. Expected DER comes from OpenSSL 3.0.19
 * (2026-11-22): `openssl req -new -x509 -key k.pem -addext ...` (or `-config ext.cnf -extensions
 * <section>`), each Extension sliced out of the certificate's [3] extensions unchanged.
 */
import { describe, expect, it } from 'vitest';
import {
  authorityInfoAccessExtension, authorityKeyIdentifierExtension, basicConstraintsExtension, bytesToIp,
  certificatePoliciesExtension, cidrToBytes, crlDistributionPointsExtension, extKeyUsageExtension, freshestCrlExtension,
  ipToBytes, keyUsageExtension, nameConstraintsExtension, ocspNoCheckExtension, parseSubjectAltName,
  subjectAltNameExtension, subjectKeyIdentifier, subjectKeyIdentifierExtension, tlsFeatureExtension,
} from '../../../src/pki/extensions.js';
import { FlintError } from '../../../src/errors/index.js';

const hex = (b: Buffer) => b.toString('hex');
// P-256 key of the OpenSSL certificate the expected values came from.
const SPKI = Buffer.from(
  '3059301306072a8648ce3d020106082a8648ce3d0301070342000417660b4898bb666d3d9da01f919cdc983ab4a8544c3c1600efe25355c8d1b2b549ecff148e6fe94a270e8c96fdb2dee34249df2736d7088ffc6cea300b4d844e',
  'hex',
);
const KEY_ID = Buffer.from('96fd9f7eb6e4697b435fe1f1909efc7f00aefcd6', 'hex');

describe('extension encoders match OpenSSL byte for byte', () => {
  it('basicConstraints (critical; cA FALSE is DEFAULT and omitted)', () => {
    // basicConstraints = critical,CA:TRUE,pathlen:0
    expect(hex(basicConstraintsExtension({ ca: true, pathLen: 0 }))).toBe('30120603551d130101ff040830060101ff020100');
    // basicConstraints = critical,CA:TRUE
    expect(hex(basicConstraintsExtension({ ca: true }))).toBe('300f0603551d130101ff040530030101ff');
    // basicConstraints = critical,CA:FALSE  →  value 30 00
    expect(hex(basicConstraintsExtension({ ca: false }))).toBe('300c0603551d130101ff04023000');
    expect(() => basicConstraintsExtension({ ca: false, pathLen: 1 })).toThrow(FlintError);
  });

  it('keyUsage (critical, trailing zero bits dropped)', () => {
    // keyUsage = critical,digitalSignature,keyEncipherment,decipherOnly (bit 8 → two octets)
    expect(hex(keyUsageExtension(['digitalSignature', 'keyEncipherment', 'decipherOnly']))).toBe('300f0603551d0f0101ff0405030307a080');
    // keyUsage = critical,keyCertSign,cRLSign
    expect(hex(keyUsageExtension(['keyCertSign', 'cRLSign']))).toBe('300e0603551d0f0101ff040403020106');
    // keyUsage = critical,digitalSignature
    expect(hex(keyUsageExtension(['digitalSignature']))).toBe('300e0603551d0f0101ff040403020780');
    expect(() => keyUsageExtension([])).toThrow(FlintError);
  });

  it('extKeyUsage by name or OID', () => {
    // extendedKeyUsage = serverAuth,clientAuth
    const want = '301d0603551d250416301406082b0601050507030106082b06010505070302';
    expect(hex(extKeyUsageExtension(['serverAuth', 'clientAuth']))).toBe(want);
    expect(hex(extKeyUsageExtension(['serverAuth', '1.3.6.1.5.5.7.3.2']))).toBe(want);
    expect(() => extKeyUsageExtension(['nonsense'])).toThrow(/not a dotted OID/);
  });

  it('subjectAltName: dNSName, iPAddress v4/v6, rfc822Name, URI', () => {
    // subjectAltName = DNS:www.example.com,DNS:example.com,IP:192.0.2.10,IP:2001:db8::1,email:admin@example.com,URI:https://example.com/x
    const sans = { dns: ['www.example.com', 'example.com'], ip: ['192.0.2.10', '2001:db8::1'], email: ['admin@example.com'], uri: ['https://example.com/x'] };
    const ext = subjectAltNameExtension(sans);
    expect(hex(ext)).toBe(
      '30690603551d1104623060820f7777772e6578616d706c652e636f6d820b6578616d706c652e636f6d8704c000020a871020010db8000000000000000000000001811161646d696e406578616d706c652e636f6d861568747470733a2f2f6578616d706c652e636f6d2f78',
    );
    // critical when the subject is empty (§4.2.1.6): 01 01 ff after the OID
    expect(hex(subjectAltNameExtension({ dns: ['a.example'], ip: [], email: [], uri: [] }, true))).toMatch(/^30..0603551d110101ff04/);
    // and back
    expect(parseSubjectAltName(ext.subarray(ext.length - 0x62)).sans).toEqual(sans);
    expect(() => subjectAltNameExtension({ dns: [], ip: [], email: [], uri: [] })).toThrow(FlintError);
    expect(() => subjectAltNameExtension({ dns: ['bücher.example'], ip: [], email: [], uri: [] })).toThrow(/IA5String/);
  });

  it('subjectKeyIdentifier = SHA-1 of the subjectPublicKey bits (method 1), and the extension', () => {
    // subjectKeyIdentifier = hash
    expect(subjectKeyIdentifier(SPKI)).toEqual(KEY_ID);
    expect(hex(subjectKeyIdentifierExtension(KEY_ID))).toBe('301d0603551d0e0416041496fd9f7eb6e4697b435fe1f1909efc7f00aefcd6');
    expect(() => subjectKeyIdentifier(SPKI.subarray(0, 40))).toThrow(FlintError);
  });

  it('authorityKeyIdentifier with keyIdentifier only', () => {
    // authorityKeyIdentifier = keyid:always
    expect(hex(authorityKeyIdentifierExtension(KEY_ID))).toBe('301f0603551d2304183016801496fd9f7eb6e4697b435fe1f1909efc7f00aefcd6');
  });

  it('cRLDistributionPoints: one DistributionPoint, URLs as alternative fullNames', () => {
    // crlDistributionPoints = URI:http://crl.example.com/ca.crl
    expect(hex(crlDistributionPointsExtension(['http://crl.example.com/ca.crl']))).toBe(
      '302e0603551d1f042730253023a021a01f861d687474703a2f2f63726c2e6578616d706c652e636f6d2f63612e63726c',
    );
    // crlDistributionPoints = cdp; [cdp] fullname = URI:http://crl.example.com/ca.crl,URI:ldap://ldap.example.com/cn=ca
    expect(hex(crlDistributionPointsExtension(['http://crl.example.com/ca.crl', 'ldap://ldap.example.com/cn=ca']))).toBe(
      '304d0603551d1f044630443042a040a03e861d687474703a2f2f63726c2e6578616d706c652e636f6d2f63612e63726c861d6c6461703a2f2f6c6461702e6578616d706c652e636f6d2f636e3d6361',
    );
  });

  it('freshestCRL', () => {
    // freshestCRL = URI:http://crl.example.com/delta.crl
    expect(hex(freshestCrlExtension(['http://crl.example.com/delta.crl']))).toBe(
      '30310603551d2e042a30283026a024a0228620687474703a2f2f63726c2e6578616d706c652e636f6d2f64656c74612e63726c',
    );
  });

  it('authorityInfoAccess: OCSP then caIssuers', () => {
    // authorityInfoAccess = OCSP;URI:http://ocsp.example.com,caIssuers;URI:http://ca.example.com/ca.crt
    expect(hex(authorityInfoAccessExtension({ ocsp: ['http://ocsp.example.com'], caIssuers: ['http://ca.example.com/ca.crt'] }))).toBe(
      '305d06082b060105050701010451304f302306082b060105050730018617687474703a2f2f6f6373702e6578616d706c652e636f6d302806082b06010505073002861c687474703a2f2f63612e6578616d706c652e636f6d2f63612e637274',
    );
    expect(() => authorityInfoAccessExtension({})).toThrow(FlintError);
  });

  it('certificatePolicies', () => {
    // certificatePolicies = 2.23.140.1.2.1,1.3.6.1.4.1.99999.1
    expect(hex(certificatePoliciesExtension(['2.23.140.1.2.1', '1.3.6.1.4.1.99999.1']))).toBe(
      '30200603551d20041930173008060667810c010201300b06092b06010401868d1f01',
    );
  });

  it('nameConstraints (critical; IP as address + mask; minimum DEFAULT 0 omitted)', () => {
    // nameConstraints = critical,permitted;DNS:example.com,permitted;IP:192.0.2.0/255.255.255.0,
    //   permitted;IP:2001:db8::/ffff:ffff::,permitted;email:example.com,excluded;DNS:bad.example.com,excluded;IP:10.0.0.0/255.0.0.0
    const nc = nameConstraintsExtension({
      permittedDns: ['example.com'], permittedIp: ['192.0.2.0/24', '2001:db8::/32'], permittedEmail: ['example.com'],
      excludedDns: ['bad.example.com'], excludedIp: ['10.0.0.0/8'],
    });
    expect(hex(nc)).toBe(
      '307d0603551d1e0101ff04733071a04e300d820b6578616d706c652e636f6d300a8708c0000200ffffff003022872020010db8000000000000000000000000ffffffff000000000000000000000000300d810b6578616d706c652e636f6da11f3011820f6261642e6578616d706c652e636f6d300a87080a000000ff000000',
    );
    expect(() => nameConstraintsExtension({})).toThrow(/at least one subtree/);
    expect(() => nameConstraintsExtension({ permittedIp: ['10.0.0.1/8'] })).toThrow(/host bits/);
  });

  it('TLS feature status_request (must-staple) and OCSP no-check', () => {
    // tlsfeature = status_request
    expect(hex(tlsFeatureExtension())).toBe('301106082b0601050507011804053003020105');
    // noCheck = yes
    expect(hex(ocspNoCheckExtension())).toBe('300f06092b060105050730010504020500');
  });
});

describe('IP address helpers', () => {
  it('parses IPv4 and IPv6 forms', () => {
    expect(hex(ipToBytes('192.0.2.1'))).toBe('c0000201');
    expect(hex(ipToBytes('::'))).toBe('0'.repeat(32));
    expect(hex(ipToBytes('::1'))).toBe('0'.repeat(31) + '1');
    expect(hex(ipToBytes('2001:DB8::8:800:200C:417A'))).toBe('20010db80000000000080800200c417a');
    expect(hex(ipToBytes('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(ipToBytes('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008');
    expect(hex(ipToBytes('1:2:3:4:5:6:1.2.3.4'))).toBe('00010002000300040005000601020304');
    for (const bad of ['1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', ':1:2', 'fe80::1%eth0', '12345::', 'example.com', '']) {
      expect(() => ipToBytes(bad), bad).toThrow(FlintError);
    }
  });
  it('prints RFC 5952 canonical IPv6', () => {
    expect(bytesToIp(ipToBytes('2001:0db8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1');
    expect(bytesToIp(ipToBytes('2001:db8:0:1:0:0:0:1'))).toBe('2001:db8:0:1::1');
    expect(bytesToIp(ipToBytes('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(bytesToIp(ipToBytes('::'))).toBe('::');
    expect(bytesToIp(ipToBytes('1::'))).toBe('1::');
    expect(bytesToIp(Buffer.from([10, 0, 0, 1]))).toBe('10.0.0.1');
  });
  it('turns CIDR into address + mask', () => {
    expect(hex(cidrToBytes('10.0.0.0/8'))).toBe('0a000000ff000000');
    expect(hex(cidrToBytes('0.0.0.0/0'))).toBe('0000000000000000');
    expect(hex(cidrToBytes('2001:db8::/33'))).toBe('20010db8' + '0'.repeat(24) + 'ffffffff80' + '0'.repeat(22));
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/x', '10.0.0.0/8/8']) expect(() => cidrToBytes(bad), bad).toThrow(FlintError);
  });
});
