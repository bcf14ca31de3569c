#!/usr/bin/env bash
# The end-to-end tests, when this machine can run the local cluster: they bring up a real one-node
# cluster (cold: about 9 min of Kubernetes builds) and tear it down. Then Knative's own conformance
# suites run against pilotlight on the local cluster (test/conformance/run.ts; cold: the suites and
# their images are built from the Go module proxy first). The cluster is a machine-wide singleton,
# so the lock keeps other users of it (benchmarks, a second test run) waiting; both stages run
# under one hold of it, and the conformance stage runs even when an e2e test failed, so its
# results table is written on every run.
set -euo pipefail
cd "$(dirname "$0")/.."

if reason="$(cli/cluster/preflight.sh)"; then
  exec flock /tmp/pilotlight-cluster.lock bash -c 'status=0; npm run test:e2e || status=$?; node test/conformance/run.ts || status=$?; exit $status'
fi
echo "[test] skipping the end-to-end tests (npm run test:e2e) and the conformance suites: $reason"
