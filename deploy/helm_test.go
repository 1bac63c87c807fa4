package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-redis/vigil/config"
)

const helmChart = "helm/vigil"

// rendered is one `helm template` of the chart, strictly decoded into the
// Kubernetes API types: an unknown or misplaced field fails the decode.
type rendered struct {
	sts      appsv1.StatefulSet
	services map[string]corev1.Service
	cm       corev1.ConfigMap
	pdb      *policyv1.PodDisruptionBudget
	secrets  map[string]corev1.Secret
}

// renderChart renders the chart with vals over its defaults, as helm
// install would (schema validation included).
func renderChart(t *testing.T, vals map[string]any) (rendered, error) {
	t.Helper()
	ch, err := loader.Load(helmChart)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	opts := chartutil.ReleaseOptions{Name: "cache", Namespace: "db", Revision: 1, IsInstall: true}
	values, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return rendered{}, err
	}
	out, err := engine.Render(ch, values)
	if err != nil {
		return rendered{}, err
	}
	return decodeRendered(t, ch, out), nil
}

func decodeRendered(t *testing.T, ch *chart.Chart, out map[string]string) rendered {
	t.Helper()
	r := rendered{services: map[string]corev1.Service{}, secrets: map[string]corev1.Secret{}}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	kinds := map[string]int{}
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasSuffix(name, ".tpl") {
			continue
		}
		for _, doc := range strings.Split(out[name], "\n---\n") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := sigsyaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			kinds[meta.Kind]++
			var target any
			switch meta.Kind {
			case "StatefulSet":
				target = &r.sts
			case "ConfigMap":
				target = &r.cm
			case "Service":
				target = new(corev1.Service)
			case "Secret":
				target = new(corev1.Secret)
			case "PodDisruptionBudget":
				r.pdb = new(policyv1.PodDisruptionBudget)
				target = r.pdb
			default:
				t.Fatalf("%s: unexpected kind %q", name, meta.Kind)
			}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), target); err != nil {
				t.Fatalf("%s: strict decode of %s: %v\n%s", name, meta.Kind, err, doc)
			}
			if svc, ok := target.(*corev1.Service); ok {
				r.services[svc.Name] = *svc
			}
			if sec, ok := target.(*corev1.Secret); ok {
				r.secrets[sec.Name] = *sec
			}
		}
	}
	if kinds["StatefulSet"] != 1 || kinds["ConfigMap"] != 1 {
		t.Fatalf("rendered kinds %v, want one StatefulSet and one ConfigMap", kinds)
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// loadPodConfig loads the rendered vigil.yaml as pod ordinal i would, with
// the environment the StatefulSet gives its vigil container.
func loadPodConfig(t *testing.T, r rendered, i int) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(r.cm.Data["vigil.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	var c corev1.Container
	for _, x := range r.sts.Spec.Template.Spec.Containers {
		if x.Name == "vigil" {
			c = x
		}
	}
	pod, ip := fmt.Sprintf("%s-%d", r.sts.Name, i), fmt.Sprintf("10.1.0.%d", i+1)
	var environ []string
	for _, e := range c.Env {
		v := strings.NewReplacer("$(POD_NAME)", pod, "$(POD_IP)", ip).Replace(e.Value)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			v = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=" // any valid secret; a 32-byte base64 key
		}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			continue
		}
		environ = append(environ, e.Name+"="+v)
	}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(c.Args); err != nil {
		t.Fatalf("container args %v: %v", c.Args, err)
	}
	if got, _ := fs.GetString(config.FileFlag); got != "/etc/vigil/vigil.yaml" {
		t.Fatalf("--config %q", got)
	}
	if err := fs.Set(config.FileFlag, path); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(fs, environ)
	if err != nil {
		t.Fatalf("pod %s: the rendered configuration does not load: %v\n%s", pod, err, r.cm.Data["vigil.yaml"])
	}
	return cfg
}

// existingGossipSecret is the one value the chart cannot default: where
// the gossip key comes from.
var existingGossipSecret = map[string]any{"vigil": map[string]any{"gossip": map[string]any{"existingSecret": "vigil-gossip"}}}

func TestHelmChartDefaults(t *testing.T) {
	r, err := renderChart(t, existingGossipSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := *r.sts.Spec.Replicas; got != 3 {
		t.Errorf("replicas %d, want 3", got)
	}
	for _, c := range r.sts.Spec.Template.Spec.Containers {
		// Fully qualified: a registry host before the first slash.
		if host, _, ok := strings.Cut(c.Image, "/"); !ok || !strings.Contains(host, ".") {
			t.Errorf("container %s image %q is not fully qualified", c.Name, c.Image)
		}
		if c.Name == "vigil" {
			if c.ReadinessProbe.HTTPGet.Path != "/readiness" || c.LivenessProbe.HTTPGet.Path != "/liveness" {
				t.Errorf("vigil probes %s / %s", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
			}
		}
	}
	for _, want := range []string{"cache-vigil-headless", "cache-vigil-sentinel", "cache-vigil-primary"} {
		if _, ok := r.services[want]; !ok {
			t.Errorf("no Service %s (have %v)", want, slices.Sorted(mapsKeys(r.services)))
		}
	}
	if r.sts.Spec.ServiceName != "cache-vigil-headless" || r.services["cache-vigil-headless"].Spec.ClusterIP != "None" {
		t.Errorf("StatefulSet serviceName %q is not the headless Service", r.sts.Spec.ServiceName)
	}
	if r.pdb == nil || r.pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %+v", r.pdb)
	}
	if len(r.secrets) != 0 {
		t.Errorf("Secrets rendered with an existing gossip Secret: %v", slices.Sorted(mapsKeys(r.secrets)))
	}
	if ref := gossipKeyRef(r); ref == nil || ref.Name != "vigil-gossip" || ref.Key != "key" {
		t.Errorf("VIGIL_GOSSIP__ENCRYPTION_KEY from %+v, want the Secret vigil-gossip, key key", ref)
	}
	for i := range 3 {
		cfg := loadPodConfig(t, r, i)
		if cfg.Gossip.EncryptionKey == "" || cfg.Gossip.Insecure {
			t.Errorf("pod %d: gossip key %q insecure %v", i, cfg.Gossip.EncryptionKey, cfg.Gossip.Insecure)
		}
		if cfg.Node.Name != fmt.Sprintf("cache-vigil-%d", i) || cfg.Failover.Quorum != 2 || cfg.Failover.InitialPrimary != "cache-vigil-0" {
			t.Errorf("pod %d: node %q quorum %d initial primary %q", i, cfg.Node.Name, cfg.Failover.Quorum, cfg.Failover.InitialPrimary)
		}
		want := []string{"cache-vigil-0.cache-vigil-headless:7946", "cache-vigil-1.cache-vigil-headless:7946", "cache-vigil-2.cache-vigil-headless:7946"}
		if !slices.Equal(cfg.Gossip.Join, want) {
			t.Errorf("gossip.join %v, want %v", cfg.Gossip.Join, want)
		}
		if cfg.Proxy.ListenAddr != ":6380" || cfg.Sentinel.ListenAddr != ":26379" {
			t.Errorf("listeners: proxy %q sentinel %q", cfg.Proxy.ListenAddr, cfg.Sentinel.ListenAddr)
		}
	}
}

func TestHelmChartValues(t *testing.T) {
	r, err := renderChart(t, map[string]any{
		"replicaCount": 5,
		"masterName":   "orders",
		"redis":        map[string]any{"passwordSecret": map[string]any{"name": "redis-auth"}},
		"vigil": map[string]any{
			"proxy":                  map[string]any{"enabled": false},
			"sentinelPasswordSecret": map[string]any{"name": "sentinel-auth"},
			"gossip":                 map[string]any{"existingSecret": "gossip", "existingSecretKey": "aes"},
			"config":                 map[string]any{"failover": map[string]any{"down_after": "3s"}},
		},
		"podDisruptionBudget": map[string]any{"enabled": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.services["cache-vigil-primary"]; ok {
		t.Error("primary Service rendered with the proxy disabled")
	}
	if r.pdb != nil {
		t.Error("PodDisruptionBudget rendered while disabled")
	}
	cfg := loadPodConfig(t, r, 4)
	if cfg.Failover.Quorum != 3 || len(cfg.Gossip.Join) != 5 || cfg.Failover.MasterName != "orders" {
		t.Errorf("quorum %d, join %v, master %q", cfg.Failover.Quorum, cfg.Gossip.Join, cfg.Failover.MasterName)
	}
	if cfg.Failover.DownAfter != 3*time.Second {
		t.Errorf("vigil.config did not reach the file: down_after %s", cfg.Failover.DownAfter)
	}
	if cfg.Redis.PasswordFile != "/etc/vigil/secrets/redis/password" || cfg.Proxy.ListenAddr != "" {
		t.Errorf("password_file %q, proxy %q", cfg.Redis.PasswordFile, cfg.Proxy.ListenAddr)
	}
	if cfg.Sentinel.Password == "" || cfg.Gossip.EncryptionKey == "" {
		t.Error("sentinel password or gossip key not passed from their Secrets")
	}
}

// gossipKeyRef is where the vigil container's gossip key comes from.
func gossipKeyRef(r rendered) *corev1.SecretKeySelector {
	for _, c := range r.sts.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if c.Name == "vigil" && e.Name == "VIGIL_GOSSIP__ENCRYPTION_KEY" && e.ValueFrom != nil {
				return e.ValueFrom.SecretKeyRef
			}
		}
	}
	return nil
}

// vigil run refuses to start without a gossip key, so the chart refuses to
// render without one, saying what to set; a key given as a value lands in
// a Secret of the release; insecure renders gossip.insecure and no key.
func TestHelmChartGossipKey(t *testing.T) {
	if _, err := renderChart(t, nil); err == nil || !strings.Contains(err.Error(), "vigil.gossip.existingSecret") ||
		!strings.Contains(err.Error(), "vigil.gossip.insecure") {
		t.Errorf("render without a gossip key: %v, want a failure naming vigil.gossip.existingSecret and vigil.gossip.insecure", err)
	}
	const key = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	if _, err := renderChart(t, map[string]any{"vigil": map[string]any{"gossip": map[string]any{"existingSecret": "g", "encryptionKey": key}}}); err == nil ||
		!strings.Contains(err.Error(), "only one of") {
		t.Errorf("render with two gossip keys: %v, want a failure", err)
	}

	r, err := renderChart(t, map[string]any{"vigil": map[string]any{"gossip": map[string]any{"encryptionKey": key}}})
	if err != nil {
		t.Fatal(err)
	}
	sec, ok := r.secrets["cache-vigil-gossip"]
	if !ok || string(sec.Data["key"]) != key {
		t.Fatalf("Secret cache-vigil-gossip %+v, want it to hold the key", sec)
	}
	if ref := gossipKeyRef(r); ref == nil || ref.Name != "cache-vigil-gossip" || ref.Key != "key" {
		t.Errorf("VIGIL_GOSSIP__ENCRYPTION_KEY from %+v, want the chart's Secret", ref)
	}
	if r.sts.Spec.Template.Annotations["checksum/gossip-key"] == "" {
		t.Error("no checksum/gossip-key annotation: a new key would not roll the pods")
	}
	if cfg := loadPodConfig(t, r, 0); cfg.Gossip.EncryptionKey == "" {
		t.Error("gossip key not passed from the chart's Secret")
	}

	r, err = renderChart(t, map[string]any{"vigil": map[string]any{"gossip": map[string]any{"insecure": true}}})
	if err != nil {
		t.Fatal(err)
	}
	if ref := gossipKeyRef(r); ref != nil || len(r.secrets) != 0 {
		t.Errorf("insecure gossip still takes a key from %+v (secrets %v)", ref, slices.Sorted(mapsKeys(r.secrets)))
	}
	if cfg := loadPodConfig(t, r, 0); !cfg.Gossip.Insecure || cfg.Gossip.EncryptionKey != "" {
		t.Errorf("gossip insecure %v key %q, want insecure and no key", cfg.Gossip.Insecure, cfg.Gossip.EncryptionKey)
	}
}

// values.schema.json refuses bad values before anything renders.
func TestHelmChartSchema(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"even replicas":            {"replicaCount": 4},
		"one replica":              {"replicaCount": 1},
		"replicas a string":        {"replicaCount": "three"},
		"unknown key":              {"replicas": 3},
		"bad log level":            {"vigil": map[string]any{"logLevel": "verbose"}},
		"bad port":                 {"vigil": map[string]any{"ports": map[string]any{"http": 99999}}},
		"bad size":                 {"redis": map[string]any{"persistence": map[string]any{"size": "lots"}}},
		"short gossip key":         {"vigil": map[string]any{"gossip": map[string]any{"encryptionKey": "c2VjcmV0"}}},
		"gossip insecure a string": {"vigil": map[string]any{"gossip": map[string]any{"insecure": "yes"}}},
	} {
		if _, err := renderChart(t, vals); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("%s: %v, want a schema error", name, err)
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Every base image in the Dockerfile names its registry, so a build never
// depends on a daemon's default registry or short-name resolution.
func TestDockerfileImagesFullyQualified(t *testing.T) {
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		img := f[1]
		if strings.HasPrefix(img, "--") && len(f) > 2 {
			img = f[2]
		}
		n++
		if host, _, ok := strings.Cut(img, "/"); !ok || !strings.ContainsAny(host, ".:") {
			t.Errorf("FROM %s: not fully qualified (want e.g. docker.io/library/...)", img)
		}
	}
	if n == 0 {
		t.Fatal("no FROM line")
	}
}
