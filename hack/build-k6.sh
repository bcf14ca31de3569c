#!/usr/bin/env bash
# Builds the k6 load generator from its Go module (go.k6.io/k6) through the Go module proxy and
# caches the binary by version outside the repo.
#
#   hack/build-k6.sh              version: $PILOTLIGHT_K6_VERSION, else the pinned K6_VERSION below
# Prints the path of the k6 binary as its last line; progress goes to stderr.
#
# k6's go.mod has no replace/exclude directives, so `go install module@version` builds it as
# upstream resolved it. Should a future release add such directives, go install refuses the module
# and this script stops with that error instead of silently building a differently resolved graph.
set -euo pipefail

# v1.8.1 was the newest release on the Go module proxy when this was pinned
# (`go list -m go.k6.io/k6@latest`).
K6_VERSION="${PILOTLIGHT_K6_VERSION:-v1.8.1}"
CACHE_ROOT="${PILOTLIGHT_CACHE:-$HOME/.cache/pilotlight}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[build-k6 %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { log "go is not installed; it is needed to build k6 $K6_VERSION"; exit 1; }
go_version="$(go env GOVERSION)"
bin_dir="$CACHE_ROOT/bin/k6-$K6_VERSION-$go_version-$(go env GOOS)-$(go env GOARCH)"
binary="$bin_dir/k6"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
mkdir -p "$bin_dir"

# Two callers (a developer and a test harness) may race for the same cache entry.
exec 9>"$CACHE_ROOT/build-k6.lock"
log "waiting for the build lock"; flock 9
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi

heartbeat() {
  local started=$SECONDS
  while sleep 30; do log "still building k6 $K6_VERSION ($((SECONDS - started)) s)"; done
}

log "fetching go.k6.io/k6@$K6_VERSION from the Go module proxy"
go mod download "go.k6.io/k6@$K6_VERSION" >/dev/null

started=$SECONDS
stage_dir="$bin_dir/.stage.$$"
mkdir -p "$stage_dir"
trap 'rm -rf "$stage_dir"' EXIT
log "building k6 $K6_VERSION with $go_version (a cold cache downloads ~100 modules and compiles ~600 packages)"
heartbeat & hb=$!
set +e
GOBIN="$stage_dir" go install -v -trimpath -ldflags "-s -w" "go.k6.io/k6@$K6_VERSION" 2>&1 | awk '
  /^go: downloading / { d++; if (d % 50 == 0) printf("[build-k6] downloaded %d modules\n", d) > "/dev/stderr"; next }
  /^[a-zA-Z0-9._\/@~+-]+$/ { n++; if (n % 100 == 0) printf("[build-k6] compiled %d packages\n", n) > "/dev/stderr"; next }
  { print > "/dev/stderr" }'
status=${PIPESTATUS[0]}
set -e
kill "$hb" 2>/dev/null || true; wait "$hb" 2>/dev/null || true
if [ "$status" -ne 0 ]; then log "go install go.k6.io/k6@$K6_VERSION failed"; exit 1; fi

mv "$stage_dir/k6" "$binary"
log "built k6 $K6_VERSION in $((SECONDS - started)) s ($(du -h "$binary" | cut -f1)): $("$binary" version | head -1)"
printf '{"k6":"%s","go":"%s"}\n' "$K6_VERSION" "$go_version" > "$bin_dir/BUILD-INFO.json"
echo "$binary"
