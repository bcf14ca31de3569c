#!/usr/bin/env bash
# The end-to-end tests, when this machine can run the local cluster: they bring up a real one-node
# cluster (cold: about 9 min of Kubernetes builds) and tear it down. Then Knative's own conformance
# suites run against pilotlight on the local cluster (test/conformance/run.ts; cold: the suites and
# their images are built from the Go module proxy first), and then the fault suite
# (bench/faults.ts, about 10 min) brings the local cluster up with this checkout and runs its faults
# under load. The cluster is taken down at the end unless it ran before. The cluster is a
# machine-wide singleton, so the lock keeps other users of it (benchmarks, a second test run)
# waiting; every stage runs under one hold of it, and each runs even when an earlier one failed, so
# the conformance results table and the fault table are written on every run. The fault suite comes
# last so that nothing it leaves behind can change the conformance results.
#
# The fault suite does not fail the run yet: it has met its goals (but for its one known miss, a
# SIGKILLed gateway) in the few full runs made so far on a machine shared with other work
# (bench/results/faults.md). Once CI runs show it does so run after run, its exit status joins the
# others'.
set -euo pipefail
cd "$(dirname "$0")/.."

if reason="$(cli/cluster/preflight.sh)"; then
  exec flock /tmp/pilotlight-cluster.lock bash -c '
    status=0
    npm run test:e2e || status=$?
    ran_before=0
    node cli/main.ts status >/dev/null 2>&1 && ran_before=1
    node test/conformance/run.ts || status=$?
    node bench/faults.ts || echo "[test] the fault suite missed a goal (bench/results/faults.md); it does not fail the run yet"
    if [ "$ran_before" = 0 ]; then node cli/main.ts down || status=$?; fi
    exit $status'
fi
echo "[test] skipping the end-to-end tests (npm run test:e2e), the fault suite and the conformance suites: $reason"
