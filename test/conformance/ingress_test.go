//go:build e2e

// The KIngress conformance of knative.dev/networking (the suite Kourier, Contour and Istio run),
// pointed at pilotlight's gateway by the runner's flags (run.ts). Its package exports the suite
// as a function rather than a test, so a test of our own has to call it.
package conformance

import (
	"testing"

	"knative.dev/networking/test/conformance/ingress"
)

func TestIngressConformance(t *testing.T) {
	ingress.RunConformance(t)
}
