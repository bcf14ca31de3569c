#!/usr/bin/env bash
# Builds Kubernetes components and etcd from the upstream k8s.io/kubernetes module through the
# Go module proxy, and caches each binary by version outside the repo.
#
#   hack/build-k8s.sh [component...]     components: kube-apiserver etcd kube-controller-manager
#                                        kube-scheduler kubelet kube-proxy kubectl
#                                        (default: kube-apiserver etcd kubectl)
# Prints the directory holding the binaries as its last line.
#
# The module zip of k8s.io/kubernetes leaves out staging/, and its go.mod requires every staging
# module at v0.0.0 behind `replace => ./staging/...`; `go install pkg@version` refuses such modules.
# So we build inside a generated wrapper module that replaces each staging module with its
# published v0.<minor>.<patch> release.
set -euo pipefail

K8S_VERSION="${PILOTLIGHT_K8S_VERSION:-$(sed -n "s/^export const KUBERNETES_VERSION = '\(.*\)';/\1/p" "$(dirname "$0")/versions.ts")}"
[ -n "$K8S_VERSION" ] || { echo "cannot read KUBERNETES_VERSION from hack/versions.ts" >&2; exit 2; }
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
CACHE_ROOT="${PILOTLIGHT_CACHE:-$HOME/.cache/pilotlight}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver etcd kubectl)

go_version="$(go env GOVERSION)"
wrap_dir="$CACHE_ROOT/wrap/k8s-$K8S_VERSION"
bin_dir="$CACHE_ROOT/bin/k8s-$K8S_VERSION-$go_version-linux-amd64"
mkdir -p "$wrap_dir" "$bin_dir"

all_components=(kube-apiserver etcd kubectl kube-controller-manager kube-scheduler kubelet kube-proxy)

log() { printf '[build-k8s %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

package_of() {
  case "$1" in
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl) echo "k8s.io/kubernetes/cmd/$1" ;;
    *) log "unknown component '$1' (known: ${all_components[*]})"; exit 2 ;;
  esac
}

missing=()
for c in "${components[@]}"; do
  package_of "$c" >/dev/null
  [ -x "$bin_dir/$c" ] || missing+=("$c")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$bin_dir"
  exit 0
fi

# One build at a time: vitest global setup and `pilotlight up` may race for the same cache.
exec 9>"$CACHE_ROOT/build.lock"
log "waiting for the build lock" ; flock 9
missing=()
for c in "${components[@]}"; do [ -x "$bin_dir/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$bin_dir"; exit 0; fi

command -v go >/dev/null || { log "go is not installed; it is needed to build ${missing[*]}"; exit 1; }

cd "$wrap_dir"
# The stamp names every package the wrapper was resolved for; a new component means a new tidy.
stamp="$K8S_VERSION ${all_components[*]}"
if [ ! -f go.sum ] || [ "$(cat .complete 2>/dev/null)" != "$stamp" ]; then
  log "preparing wrapper module for k8s.io/kubernetes $K8S_VERSION (staging modules at $STAGING_VERSION)"
  upstream_gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [ -f "$upstream_gomod" ] || { log "could not download k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"; exit 1; }
  {
    echo 'module pilotlight.local/kbuild'
    echo
    echo 'go 1.25'
    grep '^godebug' "$upstream_gomod" || true
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo 'replace ('
    sed -n "s#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\t\1 => \1 $STAGING_VERSION#p" "$upstream_gomod"
    echo ')'
  } > go.mod
  {
    echo '//go:build tools'
    echo
    echo 'package tools'
    echo
    echo 'import ('
    for c in "${all_components[@]}"; do
      echo "	_ \"$(package_of "$c")\""
    done
    echo ')'
  } > tools.go
  log "resolving the module graph (go mod tidy; downloads about 1 GB on a cold cache)"
  go mod tidy
  echo "$stamp" > .complete
fi

version_var="k8s.io/component-base/version"
client_version_var="k8s.io/client-go/pkg/version"
minor="${STAGING_VERSION#v0.}"; minor="${minor%%.*}"
ldflags="-s -w"
for kv in "gitVersion=$K8S_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
  ldflags="$ldflags -X $version_var.$kv -X $client_version_var.$kv"
done

heartbeat() {
  local started=$SECONDS
  while sleep 30; do log "still building $1 ($((SECONDS - started)) s)"; done
}

for c in "${missing[@]}"; do
  pkg="$(package_of "$c")"
  total="$(go list -deps "$pkg" | wc -l)"
  log "building $c ($total packages in its graph; cached ones are skipped)"
  heartbeat "$c" & hb=$!
  started=$SECONDS
  tmp="$bin_dir/.$c.tmp.$$"
  if [ "$c" = etcd ]; then flags=(-ldflags "-s -w"); else flags=(-ldflags "$ldflags"); fi
  set +e
  go build -v -trimpath "${flags[@]}" -o "$tmp" "$pkg" 2>&1 | awk -v total="$total" -v name="$c" '
    /^[a-zA-Z0-9._\/-]+$/ { n++; if (n % 100 == 0) printf("[build-k8s] %s: compiled %d packages (graph has %d)\n", name, n, total) > "/dev/stderr"; next }
    { print > "/dev/stderr" }'
  status=${PIPESTATUS[0]}
  set -e
  kill "$hb" 2>/dev/null || true; wait "$hb" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then rm -f "$tmp"; log "go build $pkg failed"; exit 1; fi
  mv "$tmp" "$bin_dir/$c"
  log "built $c in $((SECONDS - started)) s ($(du -h "$bin_dir/$c" | cut -f1))"
done

printf '{"kubernetes":"%s","staging":"%s","go":"%s"}\n' "$K8S_VERSION" "$STAGING_VERSION" "$go_version" > "$bin_dir/BUILD-INFO.json"
echo "$bin_dir"
