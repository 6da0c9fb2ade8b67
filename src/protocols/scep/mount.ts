/** The SCEP front-end factory for `serve` (src/cli/frontends.ts): plain HTTP (RFC 8894 §4.1). */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Frontend, FrontendFactory } from '../../cli/frontends.js';
import { keyFamily } from '../../pki/algorithms.js';
import { certRef } from '../../pki/cms-read.js';
import { parseCertificate } from '../../pki/certificate.js';
import type { Runtime } from '../../cli/runtime.js';
import { exclusiveRunner } from '../../core/leases.js';
import { loadScepConfig, type ScepConfig } from './config.js';
import { scepFastHandler } from './fast.js';
import { ScepHandlers } from './handlers.js';
import type { Responder } from './ports.js';
import { scepRouter } from './routes.js';

/**
 * Responders per issuing CA: the configured RA (when its certificate was issued by that CA), else
 * the CA itself when its key is RSA. Failures are logged; that CA then answers 503 for SCEP.
 */
export async function loadResponders(rt: Pick<Runtime, 'issuers' | 'keys' | 'config' | 'logger'>, config: ScepConfig): Promise<Map<string, Responder>> {
  const out = new Map<string, Responder>();
  if (config.ra) {
    try {
      const certDer = parseCertificate(readFileSync(rt.config.path(config.ra.certFile), 'utf8')).der;
      const signer = await rt.keys.find(config.ra.keyLabel);
      if (!signer) throw new Error(`no key labelled ${config.ra.keyLabel}`);
      if (!certRef(certDer).spki.equals(signer.publicKey)) throw new Error('the RA certificate does not match the RA key');
      for (const issuer of rt.issuers.list()) {
        if (!certRef(certDer).issuerDer.equals(issuer.cert.subjectDer)) continue;
        out.set(issuer.id, { certDer, signer, decrypter: await rt.keys.decrypter(signer.keyUri), isRa: true });
      }
    } catch (e) {
      rt.logger.warn({ err: e }, 'SCEP RA unavailable');
    }
  }
  for (const issuer of rt.issuers.list()) {
    if (out.has(issuer.id) || !issuer.signer || issuer.record.status !== 'active' || keyFamily(issuer.signer.keyType) !== 'rsa') continue;
    out.set(issuer.id, { certDer: issuer.record.certDer, signer: issuer.signer, decrypter: await rt.keys.decrypter(issuer.record.keyUri), isRa: false });
  }
  return out;
}

export function scepHandlers(rt: Runtime, config: ScepConfig, responders: Map<string, Responder>): ScepHandlers {
  return new ScepHandlers({
    authority: rt.authority,
    certificates: rt.store.certificates,
    approvals: rt.store.approvals,
    exclusive: exclusiveRunner(rt.store.leases, rt.leases.nodeId),
    enrollment: rt.store.enrollment,
    recentEvents: rt.store.recentEvents,
    revocation: rt.store.revocation,
    audit: rt.audit,
    config,
    defaultIssuer: rt.config.defaultIssuer,
    responder: (id) => responders.get(id),
    clock: () => new Date(),
    random: (n) => randomBytes(n),
  });
}

export const scepFrontend: FrontendFactory = async (rt): Promise<Frontend> => {
  const config = loadScepConfig(rt.config as unknown);
  for (const label of config.labels.values()) rt.authority.profile(label.profile); // fail fast on an unknown profile
  const handlers = scepHandlers(rt, config, await loadResponders(rt, config));
  const router = scepRouter(handlers, config.defaultLabel, config.maxMessageBytes);
  return {
    name: 'scep',
    mounts: [
      { app: 'http', path: '/scep', router },
      { app: 'http', path: '/cgi-bin/pkiclient.exe', router },
    ],
    fast: [scepFastHandler({ handlers, defaultLabel: config.defaultLabel, maxBytes: config.maxMessageBytes, logger: rt.logger })],
  };
};
