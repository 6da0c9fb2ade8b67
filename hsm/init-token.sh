#!/usr/bin/env bash
# Creates a throwaway SoftHSM token in DIR for development or tests.
# Usage: hsm/init-token.sh DIR LABEL   (PINs from SOFTHSM_PIN / SOFTHSM_SO_PIN, never on the command line of flintca)
set -euo pipefail
dir=${1:?usage: init-token.sh DIR LABEL}
label=${2:?usage: init-token.sh DIR LABEL}
: "${SOFTHSM_PIN:?set SOFTHSM_PIN}"
: "${SOFTHSM_SO_PIN:?set SOFTHSM_SO_PIN}"
mkdir -p "$dir/tokens"
sed "s#@TOKENDIR@#$(cd "$dir" && pwd)/tokens#" "$(dirname "$0")/softhsm2.conf.template" > "$dir/softhsm2.conf"
SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --init-token --free --label "$label" --pin "$SOFTHSM_PIN" --so-pin "$SOFTHSM_SO_PIN" >/dev/null
echo "token \"$label\" created; export SOFTHSM2_CONF=$dir/softhsm2.conf"
