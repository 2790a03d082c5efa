#!/usr/bin/env bash
# Builds Terraform from source through the Go module proxy (the releases site and registry are not
# reachable) into $1 (default .tmp/bin), unless a terraform of the pinned version is already on PATH.
# The module zip lacks Terraform's nested Go modules (the azurerm, consul, cos, gcs, kubernetes, oss,
# pg and s3 state backends), so they are cut out of the build: local, http, inmem, remote and cloud
# remain. `terraform validate` with -backend=false does not need them; a `terraform_remote_state`
# data source on one of the cut backends fails validation with this build.
set -euo pipefail
version="${TERRAFORM_VERSION:-1.11.4}"
bindir="$(mkdir -p "${1:-.tmp/bin}" && cd "${1:-.tmp/bin}" && pwd)"
if command -v terraform >/dev/null && terraform version 2>/dev/null | head -1 | grep -qx "Terraform v${version}"; then
  echo "terraform v${version} already at $(command -v terraform)"
  exit 0
fi
if [ -x "${bindir}/terraform" ] && "${bindir}/terraform" version 2>/dev/null | head -1 | grep -qx "Terraform v${version}"; then
  echo "terraform v${version} already at ${bindir}/terraform"
  exit 0
fi
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
export GOPATH="${GOPATH:-$HOME/go}" GOFLAGS=-mod=mod
dir="$(go mod download -json "github.com/hashicorp/terraform@v${version}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
python3 - <<'PY'
import re
cut = ["azure", "consul", "cos", "gcs", "kubernetes", "oss", "pg", "s3"]
mod = open("go.mod").read()
for name in cut + ["legacy"]:
    path = f"github.com/hashicorp/terraform/internal/backend/remote-state/{name}" if name != "legacy" else "github.com/hashicorp/terraform/internal/legacy"
    mod = re.sub(rf"^\s*(replace\s+)?{re.escape(path)}\s.*$", "", mod, flags=re.M)
# Go >= 1.24 no longer knows this GODEBUG setting and refuses the go.mod.
mod = re.sub(r"^godebug tlskyber=.*$", "", mod, flags=re.M)
open("go.mod", "w").write(mod)
init = "internal/backend/init/init.go"
src = open(init).read()
for name in cut:
    src = re.sub(rf'^\s*backend\w+ "github.com/hashicorp/terraform/internal/backend/remote-state/{name}"\n', "", src, flags=re.M)
for key in ["azurerm", "consul", "cos", "gcs", "kubernetes", "oss", "pg", "s3"]:
    src = re.sub(rf'^\s*"{key}":\s+func\(\) backend.Backend \{{ return backend\w+\.New\(\) \}},\n', "", src, flags=re.M)
open(init, "w").write(src)
PY
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/hashicorp/terraform/version.dev=no" -o "${bindir}/terraform" .
"${bindir}/terraform" version | head -1
