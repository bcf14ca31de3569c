#!/usr/bin/env bash
# The end-to-end tests, when this machine can run the local cluster: they bring up a real one-node
# cluster (cold: about 9 min of Kubernetes builds) and tear it down. The cluster is a machine-wide
# singleton, so the lock keeps other users of it (benchmarks, a second test run) waiting.
set -euo pipefail
cd "$(dirname "$0")/.."

if reason="$(hack/cluster/preflight.sh)"; then
  exec flock /tmp/pilotlight-cluster.lock npm run test:e2e
fi
echo "[test] skipping the end-to-end tests (npm run test:e2e): $reason"
