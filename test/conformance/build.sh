#!/usr/bin/env bash
# Builds Knative's conformance suites and their test images' binaries from the Go module proxy,
# at the versions pinned by this directory's go.mod, and caches them outside the repo:
#
#   $CACHE/conformance/<serving version>/tests/<suite>.test     go test -c -tags=e2e
#   $CACHE/conformance/<serving version>/apps/<module>/<name>   static test image binaries
#   $CACHE/conformance/<serving version>/bin/test2json           turns test output into events
#
# Each output is built only when missing. Prints the cache directory as its last line.
# Nothing of the suites is kept in the repo: go.mod/go.sum pin them, the module cache holds them.
set -euo pipefail
cd "$(dirname "$0")"

CACHE_ROOT="${PILOTLIGHT_CACHE:-$HOME/.cache/pilotlight}"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

serving_version="$(sed -n 's/^[[:space:]]*knative\.dev\/serving \(v[^ ]*\).*/\1/p' go.mod | head -1)"
[ -n "$serving_version" ] || { echo "no knative.dev/serving requirement in $(pwd)/go.mod" >&2; exit 2; }
out="$CACHE_ROOT/conformance/$serving_version"

log() { printf '[conformance-build %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Suite name -> package. The ingress suite is this module's own test (ingress_test.go), since
# knative.dev/networking exports it as a function, not a test.
declare -A suites=(
  [api-v1]=knative.dev/serving/test/conformance/api/v1
  [api-v1beta1]=knative.dev/serving/test/conformance/api/v1beta1
  [runtime]=knative.dev/serving/test/conformance/runtime
  [ingress]=pilotlight.local/conformance
)

# The test images: every main package under test/test_images of each module. Both modules have a
# `runtime`, `timeout`, ... of their own, so each module gets its own directory (and image repo).
app_packages() {
  local module="$1" dir
  dir="$(go list -m -f '{{.Dir}}' "$module")"
  (cd "$dir" && grep -rl --include='*.go' '^package main$' test/test_images | xargs -n1 dirname | sort -u) \
    | sed "s#^#$module/#"
}

missing() {
  local name
  [ -x "$out/bin/test2json" ] || return 0
  for name in "${!suites[@]}"; do [ -x "$out/tests/$name.test" ] || return 0; done
  for module in knative.dev/serving knative.dev/networking; do
    [ -f "$out/apps/${module#knative.dev/}/.complete" ] || return 0
  done
  return 1
}

if ! missing; then echo "$out"; exit 0; fi

# One Go build at a time on this machine (hack/build-k8s.sh takes the same lock).
mkdir -p "$CACHE_ROOT" "$out/tests" "$out/apps"
exec 9>"$CACHE_ROOT/build.lock"
log "waiting for the build lock"; flock 9

command -v go >/dev/null || { log "go is not installed; it is needed to build the conformance suites"; exit 1; }
log "downloading knative.dev/serving $serving_version and its dependencies (go mod download)"
go mod download

for name in "${!suites[@]}"; do
  target="$out/tests/$name.test"
  [ -x "$target" ] && continue
  log "building the $name suite (${suites[$name]})"
  started=$SECONDS
  go test -c -tags=e2e -trimpath -ldflags "-s -w" -o "$target.tmp.$$" "${suites[$name]}"
  mv "$target.tmp.$$" "$target"
  log "built $name.test in $((SECONDS - started)) s"
done

# `go tool test2json` compiles the tool on first use in every GOCACHE; a binary of our own runs
# at once.
if [ ! -x "$out/bin/test2json" ]; then
  mkdir -p "$out/bin"
  go build -trimpath -o "$out/bin/test2json.tmp.$$" cmd/test2json
  mv "$out/bin/test2json.tmp.$$" "$out/bin/test2json"
fi

for module in knative.dev/serving knative.dev/networking; do
  dir="$out/apps/${module#knative.dev/}"
  [ -f "$dir/.complete" ] && continue
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  mapfile -t packages < <(app_packages "$module")
  log "building ${#packages[@]} test image binaries of $module"
  started=$SECONDS
  # Static, as ko builds them for a distroless-static base.
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/" "${packages[@]}"
  # Which package each binary came from, so the packer can find its kodata/ in the module cache.
  for p in "${packages[@]}"; do printf '%s\t%s\n' "${p##*/}" "$p"; done > "$dir.tmp/packages.tsv"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.complete"
  log "built them in $((SECONDS - started)) s"
done

echo "$out"
