#!/usr/bin/env bash
# checkov gate: scans every synthesized stack (cdktf.out/stacks/<stack>/cdk.tf.json) with checkov's
# terraform_json framework and fails on any failed check not in the skip list.
#   test/verify/checkov.sh --install                 create/refresh the pinned venv only
#   test/verify/checkov.sh <cdktf.out> [skip-file]   scan (installs first when needed)
# Skip file: one check id per line followed by its reason; `#` starts a comment line.
set -euo pipefail
CHECKOV_VERSION=3.3.30
venv="${CHECKOV_VENV:-.tmp/checkov-venv}"

install() {
  # pip's dist-info directory names the installed version without starting checkov (about 3 s).
  if [ -x "$venv/bin/checkov" ] && compgen -G "$venv/lib/python3*/site-packages/checkov-$CHECKOV_VERSION.dist-info" >/dev/null; then
    return 0
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  echo "checkov $("$venv/bin/checkov" --version) installed in $venv"
}

if [ "${1:-}" = "--install" ]; then
  install
  exit 0
fi
target="${1:?usage: checkov.sh <cdktf.out|stacks dir> [skip-file]}"
skips="${2:-$(dirname "$0")/checkov-skips.txt}"
install

# Every skip needs a reason: an id alone on its line is an error.
if awk '!/^[[:space:]]*(#|$)/ && NF < 2 { print FILENAME ":" NR ": " $0; bad = 1 } END { exit bad }' "$skips"; then :; else
  echo "checkov skip list entries above have no reason" >&2
  exit 2
fi
skip_ids="$(awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$skips" | paste -sd, -)"

stacks_dir="$target"
[ -d "$target/stacks" ] && stacks_dir="$target/stacks"
shopt -s nullglob
files=("$stacks_dir"/*/cdk.tf.json)
[ -f "$target/cdk.tf.json" ] && files=("$target/cdk.tf.json")
if [ ${#files[@]} -eq 0 ]; then
  echo "no cdk.tf.json under $target" >&2
  exit 2
fi

status=0
for file in "${files[@]}"; do
  echo "== checkov: $file"
  # --skip-download and BC_SKIP_MAPPING keep checkov from calling its vendor's API (unreachable here).
  BC_SKIP_MAPPING=TRUE "$venv/bin/checkov" --framework terraform_json -f "$file" --compact --quiet -o cli \
    --skip-download ${skip_ids:+--skip-check "$skip_ids"} || status=1
done
exit $status
