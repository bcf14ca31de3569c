#!/usr/bin/env bash
# The end-to-end tests, when this machine can run the local cluster: they bring up a real one-node
# cluster (cold: about 9 min of Kubernetes builds) and tear it down. Then Knative's own conformance
# suites run against pilotlight on the local cluster (test/conformance/run.ts; cold: the suites and
# their images are built from the Go module proxy first), and the fault suite (bench/faults.ts)
# on the same cluster, which is taken down at the end unless it ran before. The cluster is a
# machine-wide singleton, so the lock keeps other users of it (benchmarks, a second test run)
# waiting; every stage runs under one hold of it, and each runs even when an earlier one failed, so
# the conformance results table and the fault table are written on every run.
set -euo pipefail
cd "$(dirname "$0")/.."

if reason="$(cli/cluster/preflight.sh)"; then
  exec flock /tmp/pilotlight-cluster.lock bash -c '
    status=0
    npm run test:e2e || status=$?
    ran_before=0
    node cli/main.ts status >/dev/null 2>&1 && ran_before=1
    node test/conformance/run.ts --keep-cluster || status=$?
    node bench/faults.ts || status=$?
    if [ "$ran_before" = 0 ]; then node cli/main.ts down || status=$?; fi
    exit $status'
fi
echo "[test] skipping the end-to-end tests (npm run test:e2e), the conformance suites and the fault suite: $reason"
