/**
 * Tests block their event loop in spawnSync (the flintca CLI, openssl) for seconds under CI load;
 * a server then closes an idle keep-alive socket that fetch would still reuse ("other side
 * closed"). Every fetch in the tests asks for Connection: close, so no idle socket is left to go
 * stale. Servers under test still see keep-alive from real clients (lego, certbot, acme-client).
 */
const original = globalThis.fetch;

globalThis.fetch = (input: string | URL | Request, init: RequestInit = {}) => {
  const headers = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(init.headers).forEach((v, k) => headers.set(k, v));
  if (!headers.has('connection')) headers.set('connection', 'close');
  return original(input, { ...init, headers });
};
