#!/usr/bin/env bash
# The worked key-ceremony example (README "Key ceremonies"), non-interactive:
#   scripts/ceremony-example/run.sh WORKDIR
# Creates two SoftHSM tokens under WORKDIR (flint-root: the offline root token; flint-online: the
# online token) with their own WORKDIR/softhsm2.conf, runs every ceremony file in order and leaves
# WORKDIR/data ready for `flintca serve --data WORKDIR/data` (trust WORKDIR/data/ca/root.crt);
# transcripts and the ceremony audit log go to WORKDIR/transcripts, outputs to WORKDIR/out.
#
# PINs come from the environment, with development defaults:
#   CEREMONY_ROOT_PIN (root-pin-1234), CEREMONY_ONLINE_PIN (online-pin-1234),
#   CEREMONY_ROOT_SO_PIN / CEREMONY_ONLINE_SO_PIN (SO PINs of the new tokens, so-pin-1234),
#   CEREMONY_OPERATOR (the operator name recorded in transcripts, default "example-operator").
# WORKDIR must be new or empty. Needs `npm run build` first and softhsm2 installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:?usage: run.sh WORKDIR}
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ -n "$(ls -A "$work")" ]; then echo "run.sh: $work is not empty" >&2; exit 2; fi
[ -f "$repo/dist/cli/main.js" ] || { echo "run.sh: $repo/dist/cli/main.js missing: run npm run build" >&2; exit 1; }

export CEREMONY_ROOT_PIN=${CEREMONY_ROOT_PIN:-root-pin-1234}
export CEREMONY_ONLINE_PIN=${CEREMONY_ONLINE_PIN:-online-pin-1234}
root_so=${CEREMONY_ROOT_SO_PIN:-so-pin-1234}
online_so=${CEREMONY_ONLINE_SO_PIN:-so-pin-1234}
operator=${CEREMONY_OPERATOR:-example-operator}
flintca() { node "$repo/dist/cli/main.js" "$@"; }

# Two tokens in WORKDIR/tokens, WORKDIR/softhsm2.conf (hsm/init-token.sh writes the conf).
SOFTHSM_PIN=$CEREMONY_ROOT_PIN SOFTHSM_SO_PIN=$root_so "$repo/hsm/init-token.sh" "$work" flint-root >/dev/null
SOFTHSM_PIN=$CEREMONY_ONLINE_PIN SOFTHSM_SO_PIN=$online_so "$repo/hsm/init-token.sh" "$work" flint-online >/dev/null
export SOFTHSM2_CONF=$work/softhsm2.conf
# The online token's PIN file, referenced by the installed flintca.json (keyStore.pinFile).
( umask 077 && printf '%s\n' "$CEREMONY_ONLINE_PIN" > "$work/online.pin" )

cd "$work"
for f in 1-root 2-intermediate 3-ocsp-key 4-sign-intermediate 5-ocsp-signer 6-crl 7-install; do
  echo "== ceremony $f"
  flintca ceremony run "$here/$f.yaml" --operator "$operator" --transcript-dir "$work/transcripts"
done
echo "== done: flintca serve --data $work/data   (trust $work/data/ca/root.crt)"
