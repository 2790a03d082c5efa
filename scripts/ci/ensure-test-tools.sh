#!/usr/bin/env bash
# Makes sure every program the test suite runs is here, installing what is missing: `npm test` runs this first
# (the `pretest` script). Everything it builds is cached under .tmp/ (gitignored), so later runs only check versions.
#   redis-server      Debian's package (apt-get; needs root or passwordless sudo)  -> /usr/bin
#   helm v3.21.4      built from the Go module proxy (scripts/ci/install-helm.sh)    -> .tmp/bin
#   terraform 1.11.4  built from the Go module proxy (test/verify/install-terraform.sh), unless on PATH -> .tmp/bin
#   checkov 3.3.30    pip into a venv (test/verify/checkov.sh --install)          -> .tmp/checkov-venv
# A tool that cannot be installed here stops the run with one line naming it and the command that installs it.
# The tests find tools in .tmp/bin before PATH (test/support/tools.ts), so nothing needs exporting.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CHECKPOINT_DISABLE=1 # no "newer version" call to HashiCorp from `terraform version`
# The pins live in the install scripts; read them from there.
pin() { sed -n "s/$2/\\1/p" "$1" | head -1; }
HELM_VERSION="${HELM_VERSION:-$(pin scripts/ci/install-helm.sh '^HELM_VERSION="${HELM_VERSION:-\(.*\)}"$')}"
TERRAFORM_VERSION="${TERRAFORM_VERSION:-$(pin test/verify/install-terraform.sh '^version="${TERRAFORM_VERSION:-\(.*\)}"$')}"
CHECKOV_VERSION="$(pin test/verify/checkov.sh '^CHECKOV_VERSION=\(.*\)$')"
bin="$PWD/.tmp/bin"
logs="$PWD/.tmp/tools"
mkdir -p "$bin" "$logs"
start=$SECONDS

say() { echo "test tools: $*" >&2; }
# One line, then stop: the tool, why, and the command that installs it.
missing() {
  echo "test tools: $1 is missing: $2" >&2
  exit 1
}
# Runs a slow step with its output in a log; on failure, the log's tail and one line saying how to retry.
slow() {
  local name="$1" retry="$2" log="$logs/$1.log" t=$SECONDS
  shift 2
  if ! "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    missing "$name" "installing it failed (whole log: ${log#"$PWD"/}); retry with \`$retry\`"
  fi
  say "$name ready in $((SECONDS - t))s"
}
# Version a binary reports, or nothing if it is absent or broken.
helm_version() { [ -x "$1" ] && "$1" version --template '{{.Version}}' 2>/dev/null || true; }
terraform_version() { [ -x "$1" ] && TF_CLI_CONFIG_FILE=/dev/null "$1" version 2>/dev/null | head -1 || true; }

# --- redis-server: the Lambda integration tests start their own instance on 127.0.0.1 --------------------------
if ! command -v redis-server >/dev/null && [ ! -x "$bin/redis-server" ]; then
  install_redis="apt-get install -y redis-server"
  if ! command -v apt-get >/dev/null; then
    missing redis-server "install it with your package manager (Debian/Ubuntu: \`sudo $install_redis\`, macOS: \`brew install redis\`)"
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || missing redis-server "run \`sudo apt-get update && sudo $install_redis\` (needs root)"
    sudo="sudo -n"
  fi
  say "installing redis-server with apt-get (once)"
  apt_install() { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server; }
  slow redis-server "${sudo:+sudo }apt-get update && ${sudo:+sudo }$install_redis" apt_install
  # Debian starts a system service on install; the tests start their own servers and do not need it.
fi

# --- helm ---------------------------------------------------------------------------------------------------------
if [ "$(helm_version "$bin/helm")" != "$HELM_VERSION" ] \
  && [ "$(helm_version "$(command -v helm || true)")" != "$HELM_VERSION" ]; then
  command -v go >/dev/null \
    || missing "helm $HELM_VERSION" "Go is needed to build it: install Go (https://go.dev/dl), then run \`bash scripts/ci/install-helm.sh\`"
  say "building helm $HELM_VERSION from the Go module proxy into .tmp/bin (about 2 min, once)"
  slow helm "bash scripts/ci/install-helm.sh" \
    env HELM_VERSION="$HELM_VERSION" HELM_BIN_DIR="$bin" bash scripts/ci/install-helm.sh
fi

# --- terraform ----------------------------------------------------------------------------------------------------
if [ "$(terraform_version "$bin/terraform")" != "Terraform v$TERRAFORM_VERSION" ] \
  && [ "$(terraform_version "$(command -v terraform || true)")" != "Terraform v$TERRAFORM_VERSION" ]; then
  command -v go >/dev/null \
    || missing "terraform $TERRAFORM_VERSION" "Go is needed to build it: install Go (https://go.dev/dl), then run \`bash test/verify/install-terraform.sh .tmp/bin\`"
  say "building terraform $TERRAFORM_VERSION from the Go module proxy into .tmp/bin (about 2 min, once)"
  slow terraform "bash test/verify/install-terraform.sh .tmp/bin" \
    env TERRAFORM_VERSION="$TERRAFORM_VERSION" bash test/verify/install-terraform.sh "$bin"
fi

# --- checkov ------------------------------------------------------------------------------------------------------
venv="${CHECKOV_VENV:-.tmp/checkov-venv}"
# The dist-info directory says which version pip installed, without starting checkov (about 3 s).
if ! compgen -G "$venv/lib/python3*/site-packages/checkov-$CHECKOV_VERSION.dist-info" >/dev/null \
  || [ ! -x "$venv/bin/checkov" ]; then
  python3 -c 'import venv, ensurepip' 2>/dev/null \
    || missing "checkov $CHECKOV_VERSION" "Python 3 with venv is needed (Debian: \`sudo apt-get install -y python3-venv\`), then run \`bash test/verify/checkov.sh --install\`"
  say "installing checkov $CHECKOV_VERSION from PyPI into $venv (about 1 min, once)"
  slow checkov "bash test/verify/checkov.sh --install" bash test/verify/checkov.sh --install
fi

say "redis-server, helm $HELM_VERSION, terraform $TERRAFORM_VERSION, checkov $CHECKOV_VERSION ready ($((SECONDS - start))s)"
