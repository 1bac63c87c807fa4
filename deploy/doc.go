// Package deploy holds deployment artifacts; its test checks them.
//
// The artifacts are the container image (Dockerfile), Kubernetes manifests
// (kubernetes/), a systemd unit (systemd/), a documented example
// configuration (vigil.example.yaml), Prometheus alerting and recording
// rules with their promtool tests (prometheus/) and a Grafana dashboard
// (grafana/). The test parses all of them, loads the example and the
// Kubernetes configuration through the config package, runs promtool on the
// rules and checks that every metric the rules and the dashboard name exists
// in vigil's Go source.
package deploy
