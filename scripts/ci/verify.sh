#!/usr/bin/env bash
# The offline gates on one synthesized configuration: schema check + grid policy + terraform validate, then checkov.
# Usage: scripts/ci/verify.sh [config.json|""] [required tag KEY=VALUE ...]
#   (no config: the built-in default, or generated/grid_config.json when present; tags default to the grid's own)
set -euo pipefail
cd "$(dirname "$0")/../.."
config="${1:-}"
[ $# -gt 0 ] && shift
tags=()
for t in "${@:-managed-by=cdktf}"; do tags+=(--require-tag "$t"); done
rm -rf cdktf.out
HTCGRID_CONFIG="$config" npm run --silent synth
npm run --silent verify:synth -- cdktf.out "${tags[@]}"
bash test/verify/checkov.sh cdktf.out
