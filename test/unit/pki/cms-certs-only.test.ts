import * as pkijs from 'pkijs';
import { describe, expect, it } from 'vitest';
import { buildCertsOnly } from '../../../src/pki/cms-certs-only.js';

describe('certs-only CMS SignedData', () => {
  it('encodes an empty certs-only message byte for byte', () => {
    // ContentInfo { id-signedData, [0] SignedData { 1, {}, { id-data }, {} } }
    expect(buildCertsOnly([]).toString('hex')).toBe('3023' + '06092a864886f70d010702' + 'a016' + '3014' + '020101' + '3100' + '300b06092a864886f70d010701' + '3100');
  });

  it('carries the given certificates, in order, as [0] IMPLICIT', () => {
    const a = Buffer.from('3003020101', 'hex');
    const b = Buffer.from('3003020102', 'hex');
    const der = buildCertsOnly([b, a]);
    expect(der.toString('hex')).toContain('a00a' + b.toString('hex') + a.toString('hex'));
  });

  it('parses with pkijs as SignedData v1 without signers', () => {
    const ci = pkijs.ContentInfo.fromBER(buildCertsOnly([]));
    expect(ci.contentType).toBe('1.2.840.113549.1.7.2');
    const sd = new pkijs.SignedData({ schema: ci.content });
    expect(sd.version).toBe(1);
    expect(sd.signerInfos).toHaveLength(0);
    expect(sd.digestAlgorithms).toHaveLength(0);
    expect(sd.encapContentInfo.eContentType).toBe('1.2.840.113549.1.7.1');
    expect(sd.encapContentInfo.eContent).toBeUndefined();
  });
});
