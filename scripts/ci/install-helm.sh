#!/usr/bin/env bash
# Installs a pinned Helm 3 binary built from source through the Go module proxy: no helm binary is
# published on npm or Debian, and GitHub release downloads are unreachable from CI.
# Idempotent: a binary that already reports the pinned version is reused.
#
# Usage: scripts/ci/install-helm.sh            -> prints the path of the helm binary on stdout
# Env:   HELM_VERSION (default below), HELM_BIN_DIR (default .tmp/bin of this repository, where the tests look)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
HELM_BIN_DIR="${HELM_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/.tmp/bin}"
HELM_BIN="$HELM_BIN_DIR/helm"

log() { echo "install-helm: $*" >&2; }

installed_version() {
  # `helm version --template` prints e.g. v3.21.4; empty if the binary is missing or broken.
  [ -x "$1" ] && "$1" version --template '{{.Version}}' 2>/dev/null || true
}

if [ "$(installed_version "$HELM_BIN")" = "$HELM_VERSION" ]; then
  log "helm $HELM_VERSION already at $HELM_BIN"
  echo "$HELM_BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is required (https://go.dev/dl)"; exit 1; }
mkdir -p "$HELM_BIN_DIR"
start=$(date +%s)

# Helm's version is stamped through ldflags by its Makefile; do the same so `helm version` (and the
# idempotency check above) reports the pinned tag instead of "v3.x-dirty"/"(devel)".
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"

log "building helm $HELM_VERSION with $(go version)"
if ! GOBIN="$HELM_BIN_DIR" CGO_ENABLED=0 go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"; then
  # `go install pkg@version` refuses modules whose go.mod has replace directives: build inside the
  # downloaded module instead (its go.mod/go.sum then apply as written).
  log "go install refused; building inside the downloaded module"
  dir=$(go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "go mod download gave no module directory"; exit 1; }
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$HELM_BIN" ./cmd/helm)
fi

got=$(installed_version "$HELM_BIN")
[ "$got" = "$HELM_VERSION" ] || { log "built helm reports '$got', expected $HELM_VERSION"; exit 1; }
log "helm $HELM_VERSION installed at $HELM_BIN in $(( $(date +%s) - start ))s"
echo "$HELM_BIN"
