/** `flintca acme eab create`: hands out an External Account Binding key (RFC 8555 §7.3.4) for one provisioner. */
import { userInfo } from 'node:os';
import { AuditLog } from '../audit/index.js';
import { loadConfig } from '../config/index.js';
import { FlintError } from '../errors/index.js';
import { loadAcmeConfig } from '../protocols/acme/config.js';
import { newEabKey } from '../protocols/acme/eab.js';
import { makeLogger, openStore } from './runtime.js';

export async function runAcmeEabCreate(o: { data: string; provisioner: string; json?: boolean }, out: (s: string) => void): Promise<void> {
  const config = loadConfig(o.data);
  const provisioners = loadAcmeConfig(config as unknown);
  if (!provisioners.has(o.provisioner)) throw new FlintError('notFound', `no ACME provisioner ${o.provisioner} (configured: ${[...provisioners.keys()].join(', ')})`);
  const store = await openStore(config);
  const audit = new AuditLog(store.audit, makeLogger('stderr', 'warn'));
  const actor = `cli:${userInfo().username}`;
  try {
    const key = newEabKey(o.provisioner, new Date());
    await store.acme.createEabKey(key, audit.emitted([{ actor, action: 'acme.eab.create', object: `acme-eab:${key.kid}`, result: 'ok', data: { provisioner: o.provisioner } }]));
    const hmacKey = key.hmacKey.toString('base64url');
    if (o.json) out(JSON.stringify({ provisioner: o.provisioner, kid: key.kid, hmacKey }));
    else {
      out(`kid:      ${key.kid}`);
      out(`hmac key: ${hmacKey}`);
    }
  } finally {
    await store.close();
  }
}
