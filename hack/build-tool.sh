#!/usr/bin/env bash
# Builds a Go tool the project uses (the k6 load generator, helm, CoreDNS and the OCI registry for the local cluster) from its Go module through the
# Go module proxy and caches the binary by version outside the repo.
#
#   hack/build-tool.sh k6|helm|coredns|registry     version: $PILOTLIGHT_<TOOL>_VERSION, else the pinned one below
# Prints the path of the binary as its last line; progress goes to stderr.
#
# None of their go.mod files has replace/exclude directives, so `go install module@version` builds each as
# upstream resolved it. Should a future release add such directives, go install refuses the module
# and this script stops with that error instead of silently building a differently resolved graph.
set -euo pipefail

# The newest releases on the Go module proxy when pinned (`go list -m <module>@latest`).
tool="${1:-}"
case "$tool" in
  k6) module=go.k6.io/k6; package=go.k6.io/k6; version="${PILOTLIGHT_K6_VERSION:-v1.8.1}" ;;
  helm) module=helm.sh/helm/v3; package=helm.sh/helm/v3/cmd/helm; version="${PILOTLIGHT_HELM_VERSION:-v3.22.0}" ;;
  coredns) module=github.com/coredns/coredns; package=github.com/coredns/coredns; version="${PILOTLIGHT_COREDNS_VERSION:-v1.15.0}" ;;
  registry) module=github.com/distribution/distribution/v3; package=github.com/distribution/distribution/v3/cmd/registry; version="${PILOTLIGHT_REGISTRY_VERSION:-v3.1.2}" ;;
  *) echo "usage: hack/build-tool.sh k6|helm|coredns|registry" >&2; exit 2 ;;
esac
CACHE_ROOT="${PILOTLIGHT_CACHE:-$HOME/.cache/pilotlight}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[build-%s %s] %s\n' "$tool" "$(date -u +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "go is not installed; it is needed to build $tool $version"; exit 1; }
go_version="$(go env GOVERSION)"
bin_dir="$CACHE_ROOT/bin/$tool-$version-$go_version-$(go env GOOS)-$(go env GOARCH)"
binary="$bin_dir/$tool"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
mkdir -p "$bin_dir"

# Two callers (a developer and a test harness) may race for the same cache entry.
exec 9>"$CACHE_ROOT/build-$tool.lock"
log "waiting for the build lock"; flock 9
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi

heartbeat() {
  local started=$SECONDS
  while sleep 30; do log "still building $tool $version ($((SECONDS - started)) s)"; done
}

log "fetching $module@$version from the Go module proxy"
go mod download "$module@$version" >/dev/null

started=$SECONDS
stage_dir="$bin_dir/.stage.$$"
mkdir -p "$stage_dir"
trap 'rm -rf "$stage_dir"' EXIT
log "building $tool $version with $go_version"
heartbeat & hb=$!
set +e
GOBIN="$stage_dir" go install -v -trimpath -ldflags "-s -w" "$package@$version" 2>&1 | awk -v tool="$tool" '
  /^go: downloading / { d++; if (d % 50 == 0) printf("[build-%s] downloaded %d modules\n", tool, d) > "/dev/stderr"; next }
  /^[a-zA-Z0-9._\/@~+-]+$/ { n++; if (n % 100 == 0) printf("[build-%s] compiled %d packages\n", tool, n) > "/dev/stderr"; next }
  { print > "/dev/stderr" }'
status=${PIPESTATUS[0]}
set -e
kill "$hb" 2>/dev/null || true; wait "$hb" 2>/dev/null || true
if [ "$status" -ne 0 ]; then log "go install $package@$version failed"; exit 1; fi

mv "$stage_dir/$tool" "$binary"
log "built $tool $version in $((SECONDS - started)) s ($(du -h "$binary" | cut -f1))"
printf '{"%s":"%s","go":"%s"}\n' "$tool" "$version" "$go_version" > "$bin_dir/BUILD-INFO.json"
echo "$binary"
