/** The `flintca` command (CONTRACT.md). Exit codes: 0 ok, 1 operation failed, 2 bad usage. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { env } from '../config/index.js';
import { isFlintError } from '../errors/index.js';
import { runAuditExport, runAuditVerify, runIssue, runList, runRevoke, runUnrevoke } from './commands.js';
import { runAcmeEabCreate } from './acme.js';
import { runInit } from './init.js';
import { runRequestsDecide, runRequestsList } from './requests.js';
import { makeLogger } from './runtime.js';
import { runServe } from './serve.js';
import { runCeremony, runValidate } from './ceremony/run.js';
import { runPublish } from './ceremony/publish.js';
import { runScepChallenge, runTokenCreate, runTokenList, runTokenRevoke } from './scep.js';

const out = (s: string) => process.stdout.write(s + '\n');

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('not a port number');
  return n;
}

function dataOption(): Option {
  const o = new Option('--data <dir>', 'data directory (FLINTCA_DATA)');
  const d = env().data;
  return d ? o.default(d) : o.makeOptionMandatory();
}

export function buildProgram(): Command {
  const program = new Command('flintca').description('Flint CA: an internal private certificate authority').exitOverride().showHelpAfterError();

  program
    .command('init')
    .description('create the key store, root and issuing CA, TLS certificate, profiles and DIR/flintca.json (idempotent unless --force)')
    .addOption(dataOption())
    .addOption(new Option('--hsm <kind>', 'key store: softhsm (default when SoftHSM is installed) or file').choices(['softhsm', 'file']))
    .option('--pin <pin>', 'user PIN of the new SoftHSM token (or passphrase of software keys); random when omitted')
    .option('--so-pin <pin>', 'security-officer PIN of the new SoftHSM token; random when omitted')
    .option('--name <name>', 'CA name used in certificate subjects', 'Flint CA')
    .option('--dns <names>', 'names of the CA\'s own HTTPS certificate, comma-separated', 'localhost,127.0.0.1')
    .option('--est-password <pw>', 'HTTP Basic password for EST user "est"')
    .option('--scep-challenge <pw>', 'static SCEP challenge password')
    .option('--http-port <port>', 'plain HTTP port written into the config and certificate URLs', port)
    .option('--https-port <port>', 'HTTPS port written into the config', port)
    .addOption(new Option('--issuing-key-type <type>', 'key of the issuing CA (SCEP needs RSA, or an RSA RA certificate that init makes for p-256)').choices(['p-256', 'rsa-2048']).default('p-256'))
    .option('--force', 'wipe DIR and start over')
    .action(async (o) => runInit(o, makeLogger('stderr', 'warn'), out));

  program
    .command('serve')
    .description('serve ACME, EST, SCEP, OCSP, CRLs, health and metrics')
    .addOption(dataOption())
    .option('--host <host>', 'address to listen on')
    .option('--https-port <port>', 'HTTPS port (FLINTCA_HTTPS_PORT)', port)
    .option('--http-port <port>', 'plain HTTP port (FLINTCA_HTTP_PORT)', port)
    .option('--acme-http01-port <port>', 'port the CA connects to for http-01 validation', port)
    .option('--acme-tlsalpn01-port <port>', 'port the CA connects to for tls-alpn-01 validation', port)
    .option('--acme-dns-resolver <host:port>', 'DNS server for identifier and TXT lookups')
    .action(async (o) => runServe(o));

  program
    .command('issue')
    .description('issue a certificate from a CSR with a profile')
    .addOption(dataOption())
    .requiredOption('--csr <file>', 'PKCS#10 CSR, PEM or DER')
    .requiredOption('--profile <name>', 'signing profile')
    .option('--out <file>', 'write the certificate (PEM) here instead of stdout')
    .option('--chain', 'append the issuing CA chain (without the root)')
    .action(async (o) => runIssue(o, out));

  program
    .command('revoke')
    .description('revoke a certificate by serial number')
    .addOption(dataOption())
    .requiredOption('--serial <hex>', 'serial number in hex (colons allowed)')
    .option('--reason <reason>', 'keyCompromise, superseded, cessationOfOperation, affiliationChanged, privilegeWithdrawn, certificateHold, ...')
    .action(async (o) => runRevoke(o, out));

  program
    .command('unrevoke')
    .description('release a certificate from certificateHold')
    .addOption(dataOption())
    .requiredOption('--serial <hex>', 'serial number in hex')
    .action(async (o) => runUnrevoke(o, out));

  program
    .command('list')
    .description('list issued certificates')
    .addOption(dataOption())
    .option('--expiring-within <duration>', 'only certificates expiring within e.g. 30d')
    .option('--json', 'one JSON object per line')
    .action(async (o) => runList(o, out));

  const requests = program.command('requests').description('the manual-approval queue shared by EST and SCEP');
  requests
    .command('list')
    .description('list queued enrollment requests')
    .addOption(dataOption())
    .option('--status <status>', 'pending, approved, rejected or issued')
    .option('--json', 'one JSON object per line')
    .action(async (o) => runRequestsList(o, out));
  requests
    .command('approve')
    .description('approve a pending request; the device gets its certificate on its next retry or poll')
    .addOption(dataOption())
    .requiredOption('--id <id>', 'request id (from requests list)')
    .action(async (o) => runRequestsDecide(o, 'approved', out));
  requests
    .command('reject')
    .description('reject a pending request')
    .addOption(dataOption())
    .requiredOption('--id <id>', 'request id')
    .option('--reason <text>', 'why (recorded in the audit log)')
    .action(async (o) => runRequestsDecide(o, 'rejected', out));

  program
    .command('acme')
    .description('ACME administration')
    .command('eab')
    .description('External Account Binding keys')
    .command('create')
    .description('create a one-time EAB key id and base64url HMAC key for an ACME provisioner')
    .addOption(dataOption())
    .option('--provisioner <name>', 'ACME provisioner', 'acme')
    .option('--json', 'print {provisioner, kid, hmacKey} as JSON')
    .action(async (o) => runAcmeEabCreate(o, out));

  program
    .command('scep')
    .description('SCEP administration')
    .command('challenge')
    .description('print a one-time SCEP challenge password for a label')
    .addOption(dataOption())
    .option('--label <label>', 'SCEP label', 'default')
    .option('--ttl <duration>', 'lifetime, e.g. 1h, 30m, 7d (at most 30d)', '1h')
    .option('--subject <cn>', 'bind to this CSR common name (CN=… or the bare value)')
    .option('--dns <names>', 'bind to exactly these DNS names, comma-separated')
    .option('--json', 'print {challenge, label, expiresAt} as JSON')
    .action(async (o) => runScepChallenge(o, out));

  const token = program.command('token').description('admin API bearer tokens (shown once, stored hashed)');
  token
    .command('create')
    .description('create a bearer token for the admin API and print it once')
    .addOption(dataOption())
    .requiredOption('--scope <scope...>', 'scopes, e.g. scep-challenge:LABEL or scep-challenge:*')
    .option('--description <text>', 'what the token is for')
    .option('--json', 'print {id, token, scopes} as JSON')
    .action(async (o) => runTokenCreate(o, out));
  token
    .command('list')
    .description('list admin tokens (ids, scopes, status; never the secrets)')
    .addOption(dataOption())
    .option('--json', 'one JSON object per line')
    .action(async (o) => runTokenList(o, out));
  token
    .command('revoke')
    .description('revoke an admin token by id')
    .argument('<id>', 'token id (from token list)')
    .addOption(dataOption())
    .action(async (id, o) => runTokenRevoke(o, id, out));

  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('recompute the hash chain and checkpoints; exit 1 naming the first broken record')
    .addOption(dataOption())
    .action(async (o) => {
      if (!(await runAuditVerify(o, out))) process.exitCode = 1;
    });
  audit
    .command('export')
    .description('write audit records as JSON lines')
    .addOption(dataOption())
    .option('--since <iso>', 'only records at or after this time')
    .action(async (o) => runAuditExport(o));

  const ceremony = program.command('ceremony').description('key ceremonies: one reviewed YAML file per ceremony (README "Key ceremonies")');
  ceremony
    .command('run')
    .description('validate FILE, then run it against the HSM; prints and writes a transcript and appends it to an audit log')
    .argument('<file>', 'ceremony YAML file')
    .requiredOption('--operator <name>', 'the person running the ceremony (recorded in the transcript and audit log)')
    .option('--dry-run', 'print every step, token, key label, subject and output file; touch nothing')
    .option('--transcript-dir <dir>', 'where transcripts and the ceremony audit log go (default: the output directory)')
    .action(async (file: string, o) => runCeremony(file, o, makeLogger('stderr', 'warn'), out));
  ceremony
    .command('validate')
    .description('check FILE and every input it names without touching an HSM; prints the plan')
    .argument('<file>', 'ceremony YAML file')
    .action(async (file: string) => runValidate(file, makeLogger('stderr', 'warn'), out));
  ceremony
    .command('publish')
    .description('bring a newer offline-signed CRL and/or a re-signed OCSP responder certificate of an offline CA into DIR')
    .addOption(dataOption())
    .requiredOption('--ca <id>', 'the offline CA (e.g. root)')
    .option('--crl <file>', 'CRL from a crl ceremony (DER or PEM)')
    .option('--ocsp-cert <file>', 'responder certificate from an ocsp-signer ceremony (key ocsp-<ca> on the online token)')
    .requiredOption('--operator <name>', 'the person publishing (audit log)')
    .action(async (o) => runPublish(o, makeLogger('stderr', 'warn'), out));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
    }
    if (isFlintError(e)) {
      process.stderr.write(`flintca: ${e.detail}\n`);
      return 1;
    }
    process.stderr.write(`flintca: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  }
}
