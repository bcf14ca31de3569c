//go:build tools

// Never compiled. It names every package the runner builds from the module cache (the suites'
// shared code and the test images' main packages), so that `go mod tidy` keeps their modules and
// checksums in go.mod and go.sum. The suites themselves are _test.go files of a dependency, which
// tidy does not look at; the packages they import are covered through the ones named here.
package conformance

import (
	_ "knative.dev/serving/test/conformance/api/v1"
	_ "knative.dev/serving/test/conformance/runtime"
	_ "knative.dev/serving/test/e2e"

	_ "knative.dev/serving/test/test_images/autoscale"
	_ "knative.dev/serving/test/test_images/failing"
	_ "knative.dev/serving/test/test_images/grpc-ping"
	_ "knative.dev/serving/test/test_images/hellohttp2"
	_ "knative.dev/serving/test/test_images/hellovolume"
	_ "knative.dev/serving/test/test_images/helloworld"
	_ "knative.dev/serving/test/test_images/httpproxy"
	_ "knative.dev/serving/test/test_images/multicontainer/servingcontainer"
	_ "knative.dev/serving/test/test_images/multicontainer/sidecarcontainer"
	_ "knative.dev/serving/test/test_images/pizzaplanetv1"
	_ "knative.dev/serving/test/test_images/pizzaplanetv2"
	_ "knative.dev/serving/test/test_images/readiness"
	_ "knative.dev/serving/test/test_images/revisionfailure"
	_ "knative.dev/serving/test/test_images/runtime"
	_ "knative.dev/serving/test/test_images/singlethreaded"
	_ "knative.dev/serving/test/test_images/slowstart"
	_ "knative.dev/serving/test/test_images/timeout"
	_ "knative.dev/serving/test/test_images/volumes"
	_ "knative.dev/serving/test/test_images/wsserver"

	_ "knative.dev/networking/test/test_images/grpc-ping"
	_ "knative.dev/networking/test/test_images/httpproxy"
	_ "knative.dev/networking/test/test_images/retry"
	_ "knative.dev/networking/test/test_images/runtime"
	_ "knative.dev/networking/test/test_images/timeout"
	_ "knative.dev/networking/test/test_images/wsserver"
)
