/** The worked key-ceremony example's tokens and PINs, and the ceremonies that make a new issuing CA (shared by the ceremony tests). */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const CEREMONY_PINS = { CEREMONY_ROOT_PIN: 'root-pin-5678', CEREMONY_ONLINE_PIN: 'online-pin-5678', CEREMONY_ROOT_SO_PIN: 'root-so-5678', CEREMONY_ONLINE_SO_PIN: 'online-so-5678' };

export type RunCeremony = (file: string) => { code: number; stdout: string; stderr: string };
export type WriteYaml = (name: string, text: string) => string;

/**
 * `intermediate` (key issuing-ca-2027 on the online token) and `sign-intermediate` (by the offline
 * root) in the example's WORKDIR: out/issuing-2027.crt is then ready for a rollover ceremony.
 */
export function newIssuingCa(ceremony: RunCeremony, yaml: WriteYaml, crlUrl?: string): void {
  const online = `{ module: ${SOFTHSM_MODULE}, label: flint-online, pin: { env: CEREMONY_ONLINE_PIN } }`;
  const rootTok = `{ module: ${SOFTHSM_MODULE}, label: flint-root, pin: { env: CEREMONY_ROOT_PIN } }`;
  const made = ceremony(yaml('r1.yaml', `ceremony: intermediate
token: ${online}
key: { label: issuing-ca-2027, type: P-256 }
csr: { subject: { O: Example Corp, CN: Example Corp Issuing CA 2027 } }
output: { dir: out, name: issuing-2027 }
`));
  if (made.code !== 0) throw new Error(`intermediate ceremony failed: ${made.stderr}`);
  const signed = ceremony(yaml('r2.yaml', `ceremony: sign-intermediate
token: ${rootTok}
issuer: { keyLabel: root-ca-2026, certificate: out/root.crt }
csr: out/issuing-2027.csr
certificate:
  validity: { notBefore: '2026-06-01T00:00:00Z', notAfter: '2036-01-01T00:00:00Z' }
  pathLength: 0
${crlUrl ? `  crlUrl: ${crlUrl}\n` : ''}output: { dir: out, name: issuing-2027 }
`));
  if (signed.code !== 0) throw new Error(`sign-intermediate ceremony failed: ${signed.stderr}`);
}

/** The `rollover` ceremony on WORKDIR/data: issuing-2027 (from newIssuingCa) active, `issuing` retiring. */
export function rolloverToNewIssuingCa(ceremony: RunCeremony, yaml: WriteYaml): ReturnType<RunCeremony> {
  return ceremony(yaml('r3.yaml', `ceremony: rollover
data: data
ca: { id: issuing-2027, certificate: out/issuing-2027.crt, keyLabel: issuing-ca-2027 }
retire: issuing
`));
}
