package deploy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-redis/vigil/config"
)

const (
	rulesFile     = "prometheus/vigil-rules.yml"
	rulesTestFile = "prometheus/vigil-rules.test.yml"
	dashboardFile = "grafana/vigil-dashboard.json"
	exampleFile   = "vigil.example.yaml"
	k8sConfigFile = "kubernetes/vigil.yaml"
	k8sDir        = "kubernetes"
	dockerfile    = "Dockerfile"
	systemdUnit   = "systemd/vigil.service"
)

// TestYAMLFilesParse decodes every document of every YAML file under deploy/.
func TestYAMLFilesParse(t *testing.T) {
	var n int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path == filepath.Join("helm", "vigil", "templates") {
			return filepath.SkipDir // Go templates; helm_test.go renders them
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			return nil
		}
		n++
		docs, err := yamlNodes(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		if len(docs) == 0 {
			t.Errorf("%s: no YAML documents", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("found no YAML files under deploy/")
	}
}

// yamlNodes decodes every document of the YAML file at path.
func yamlNodes(path string) ([]*yaml.Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
		}
		docs = append(docs, &n)
	}
}

func decodeYAMLFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// ---- Prometheus rules ----------------------------------------------------

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTestFile struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestPromtool runs promtool's own checks and the rules' unit tests.
func TestPromtool(t *testing.T) {
	if os.Getenv("VIGIL_NO_PROMTOOL") == "1" {
		t.Skip("VIGIL_NO_PROMTOOL=1: not running promtool")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH: install the Debian package prometheus "+
			"(apt-get install --no-install-recommends prometheus, or make deps), "+
			"or set VIGIL_NO_PROMTOOL=1 to skip these checks: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"check rules", []string{"check", "rules", filepath.Base(rulesFile)}},
		{"test rules", []string{"test", "rules", filepath.Base(rulesTestFile)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, promtool, tc.args...)
			cmd.Dir = filepath.Dir(rulesFile)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
		})
	}
}

// TestAlertRules checks what promtool does not: every alert has a severity,
// the annotations operators rely on, and a unit test in which it fires.
func TestAlertRules(t *testing.T) {
	var rf ruleFile
	decodeYAMLFile(t, rulesFile, &rf)
	var tf ruleTestFile
	decodeYAMLFile(t, rulesTestFile, &tf)

	fires := make(map[string]bool)
	for _, tc := range tf.Tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			}
		}
	}
	seen := make(map[string]bool)
	var alerts int
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if seen[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			seen[r.Alert] = true
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("alert %s: severity label %q, want critical, warning or info", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s has no %s annotation", r.Alert, a)
				}
			}
			if !fires[r.Alert] {
				t.Errorf("alert %s never fires in %s", r.Alert, rulesTestFile)
			}
		}
	}
	if alerts == 0 {
		t.Fatalf("%s defines no alerts", rulesFile)
	}
}

// ---- Metric names against the code ----------------------------------------

// quotedRE matches a PromQL string literal.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)

// identRE matches a PromQL metric name, recording rule name or keyword.
var identRE = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// selectorRE matches a vigil metric with a label selector.
var selectorRE = regexp.MustCompile(`\b(vigil_[a-zA-Z0-9_]*)\s*\{([^}]*)\}`)

// matcherRE matches one label matcher inside a selector.
var matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)

// plainValueRE matches a label value that is a word, not a pattern or a
// dashboard variable, and so can be looked up in the code.
var plainValueRE = regexp.MustCompile(`^[a-zA-Z0-9_]+$`)

// targetLabels are added by Prometheus or the scrape configuration, not by
// vigil, so the code need not mention them.
var targetLabels = map[string]bool{"job": true, "instance": true, "group": true, "le": true}

// histogramSuffixes are the series names a histogram exposes besides its
// own name.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

// promQLRefs is what a set of PromQL expressions refers to.
type promQLRefs struct {
	metrics map[string][]string // vigil_ metric name -> where used
	records map[string][]string // recording rule name (has colons) -> where used
	labels  map[string][]string // label name or matcher value on a vigil_ metric -> where used
}

func (r *promQLRefs) add(where, expr string) {
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		for _, mm := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			name, op, value := mm[1], mm[2], mm[3]
			if targetLabels[name] {
				continue
			}
			r.labels[name] = append(r.labels[name], where)
			values := []string{value}
			if op == "=~" || op == "!~" {
				values = strings.Split(value, "|")
			}
			for _, v := range values {
				if plainValueRE.MatchString(v) {
					r.labels[v] = append(r.labels[v], where)
				}
			}
		}
	}
	for _, id := range identRE.FindAllString(quotedRE.ReplaceAllString(expr, `""`), -1) {
		switch {
		case strings.Contains(id, ":") && strings.Contains(id, "vigil_"):
			r.records[id] = append(r.records[id], where)
		case strings.HasPrefix(id, "vigil_"):
			r.metrics[id] = append(r.metrics[id], where)
		}
	}
}

// goStringLiterals returns every string literal in the non-test Go files of
// the module rooted at root, outside deploy/.
func goStringLiterals(t *testing.T, root string) map[string]bool {
	t.Helper()
	lits := make(map[string]bool)
	var files int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "deploy") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		// A scanner, not a parser: a file another engineer is halfway
		// through editing still yields its literals.
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(path, -1, len(src)), src, nil, 0)
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			if v, err := strconv.Unquote(lit); err == nil {
				lits[v] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no Go files under %s", root)
	}
	return lits
}

// dashboardQueries returns every PromQL string of the dashboard: panel
// targets, annotation queries and template variable queries.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	out := make(map[string]string)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition" || (k == "query" && strings.Contains(path, "templating"))) {
					out[path+"."+k] = s
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("", v)
	return out
}

// TestMetricNamesExistInCode fails when the rules or the dashboard name a
// vigil metric, a label or a label value that no Go file of vigil mentions,
// so they cannot drift from the code.
func TestMetricNamesExistInCode(t *testing.T) {
	lits := goStringLiterals(t, "..")
	refs := promQLRefs{metrics: map[string][]string{}, records: map[string][]string{}, labels: map[string][]string{}}

	var rf ruleFile
	decodeYAMLFile(t, rulesFile, &rf)
	defined := make(map[string]bool)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			refs.add(rulesFile+" "+name, r.Expr)
			if r.Record != "" {
				defined[r.Record] = true
			}
		}
	}
	for where, q := range dashboardQueries(t) {
		refs.add(dashboardFile+" "+where, q)
	}
	if len(refs.metrics) == 0 {
		t.Fatal("found no vigil_ metric names in the rules and the dashboard")
	}

	exists := func(name string) bool {
		if lits[name] {
			return true
		}
		for _, s := range histogramSuffixes {
			if base, ok := strings.CutSuffix(name, s); ok && lits[base] {
				return true
			}
		}
		return false
	}
	for _, name := range sortedKeys(refs.metrics) {
		if !exists(name) {
			t.Errorf("metric %s is not in vigil's Go source; used in %s", name, strings.Join(uniq(refs.metrics[name]), ", "))
		}
	}
	for _, name := range sortedKeys(refs.records) {
		if !defined[name] {
			t.Errorf("recording rule %s is not defined in %s; used in %s", name, rulesFile, strings.Join(uniq(refs.records[name]), ", "))
		}
	}
	for _, name := range sortedKeys(refs.labels) {
		if !lits[name] {
			t.Errorf("label or label value %q is not in vigil's Go source; used in %s", name, strings.Join(uniq(refs.labels[name]), ", "))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// ---- Grafana dashboard ---------------------------------------------------

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// TestDashboard checks the dashboard is JSON Grafana imports: unique panel
// ids, a data source variable every query uses, and a query on every panel.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: want both set", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want 36 or more", d.SchemaVersion)
	}
	var hasDS bool
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no datasource variable DS_PROMETHEUS of type prometheus")
	}
	const wantUID = "${DS_PROMETHEUS}"
	ids := make(map[int]string)
	var queries int
	var check func(p panel)
	check = func(p panel) {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no gridPos", p.Title)
		}
		for _, c := range p.Panels {
			check(c)
		}
		if p.Type == "row" {
			return
		}
		if p.Datasource == nil || p.Datasource.UID != wantUID {
			t.Errorf("panel %q: datasource %+v, want uid %s", p.Title, p.Datasource, wantUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q query %s has no expr", p.Title, q.RefID)
			}
			if q.Datasource == nil || q.Datasource.UID != wantUID {
				t.Errorf("panel %q query %s: datasource %+v, want uid %s", p.Title, q.RefID, q.Datasource, wantUID)
			}
		}
	}
	for _, p := range d.Panels {
		check(p)
	}
	if queries == 0 {
		t.Error("the dashboard has no queries")
	}
}

// ---- Configuration files ---------------------------------------------------

// loadConfig loads path the way `vigil run --config path` does, with environ
// as the process environment.
func loadConfig(t *testing.T, path string, environ []string) config.Config {
	t.Helper()
	fs := pflag.NewFlagSet("vigil", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse([]string{"--" + config.FileFlag, path}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(fs, environ)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return cfg
}

// leafKeys flattens a decoded YAML mapping into dotted keys.
func leafKeys(prefix string, m map[string]any, out map[string]bool) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			leafKeys(key, sub, out)
			continue
		}
		out[key] = true
	}
}

// TestExampleConfig loads vigil.example.yaml through the config package and
// checks that it sets (and so documents) exactly the keys vigil has.
func TestExampleConfig(t *testing.T) {
	// The example leaves the gossip key to the environment, as a secret.
	loadConfig(t, exampleFile, []string{"VIGIL_GOSSIP__ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))})

	var m map[string]any
	decodeYAMLFile(t, exampleFile, &m)
	got := make(map[string]bool)
	leafKeys("", m, got)
	want := make(map[string]bool)
	for _, kv := range config.Redacted(config.Default()) {
		want[kv[0]] = true
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("%s keys differ from the configuration's keys (-file +config):\n%s", exampleFile, diff)
	}
}

// ---- Kubernetes ----------------------------------------------------------

type k8sMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type k8sObject struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
}

type service struct {
	Spec struct {
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
		Ports     []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
			Protocol   string `yaml:"protocol"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type statefulSet struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		ServiceName string `yaml:"serviceName"`
		Replicas    int    `yaml:"replicas"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata k8sMeta `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
			SecretKeyRef *struct {
				Optional bool `yaml:"optional"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type pdb struct {
	Spec struct {
		MaxUnavailable any `yaml:"maxUnavailable"`
		Selector       struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

type kustomization struct {
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
}

// k8sManifests decodes the resources kustomization.yaml lists.
type k8sManifests struct {
	kust     kustomization
	services map[string]service
	sts      statefulSet
	pdbs     []pdb
}

func loadK8s(t *testing.T) k8sManifests {
	t.Helper()
	m := k8sManifests{services: make(map[string]service)}
	decodeYAMLFile(t, filepath.Join(k8sDir, "kustomization.yaml"), &m.kust)
	var stsCount int
	for _, res := range m.kust.Resources {
		path := filepath.Join(k8sDir, res)
		docs, err := yamlNodes(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, doc := range docs {
			var obj k8sObject
			if err := doc.Decode(&obj); err != nil {
				t.Fatalf("%s document %d: %v", path, i+1, err)
			}
			if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
				t.Errorf("%s document %d: apiVersion %q, kind %q, name %q: want all set", path, i+1, obj.APIVersion, obj.Kind, obj.Metadata.Name)
			}
			var err error
			switch obj.Kind {
			case "Service":
				var s service
				err = doc.Decode(&s)
				m.services[obj.Metadata.Name] = s
			case "StatefulSet":
				stsCount++
				err = doc.Decode(&m.sts)
			case "PodDisruptionBudget":
				var p pdb
				err = doc.Decode(&p)
				m.pdbs = append(m.pdbs, p)
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", path, i+1, err)
			}
		}
	}
	if stsCount != 1 {
		t.Fatalf("found %d StatefulSets in %v, want 1", stsCount, m.kust.Resources)
	}
	return m
}

func (m k8sManifests) container(t *testing.T, name string) container {
	t.Helper()
	for _, c := range m.sts.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("StatefulSet %s has no container %q", m.sts.Metadata.Name, name)
	return container{}
}

// podEnviron returns the vigil container's environment as the kubelet would
// build it for pod ordinal 1, with invented downward-API values.
func podEnviron(t *testing.T, m k8sManifests, c container) (environ []string, podName, podIP string) {
	t.Helper()
	podName, podIP = m.sts.Metadata.Name+"-1", "10.1.2.3"
	fields := map[string]string{"metadata.name": podName, "status.podIP": podIP, "metadata.namespace": "default"}
	vars := make(map[string]string)
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		var v string
		switch {
		case e.ValueFrom == nil:
			v = ref.ReplaceAllStringFunc(e.Value, func(s string) string {
				name := ref.FindStringSubmatch(s)[1]
				if val, ok := vars[name]; ok {
					return val
				}
				t.Errorf("env %s refers to %s, which is not defined before it", e.Name, s)
				return s
			})
		case e.ValueFrom.FieldRef != nil:
			var ok bool
			if v, ok = fields[e.ValueFrom.FieldRef.FieldPath]; !ok {
				t.Fatalf("env %s: no test value for fieldPath %q", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		case e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Optional:
			continue // absent Secret: the variable is not set
		case e.ValueFrom.SecretKeyRef != nil:
			// A required Secret: any secret vigil reads from one is a
			// base64 32-byte key or an opaque token, so one value fits all.
			v = base64.StdEncoding.EncodeToString([]byte("deploy-test-secret-32-bytes-long"))
		default:
			t.Fatalf("env %s: unsupported valueFrom", e.Name)
		}
		vars[e.Name] = v
		environ = append(environ, e.Name+"="+v)
	}
	return environ, podName, podIP
}

// TestKubernetes checks that the manifests fit together and fit vigil: the
// configuration the pods get loads, the join list names every pod, the
// Services route to ports that exist, the probes hit vigil's health paths.
func TestKubernetes(t *testing.T) {
	m := loadK8s(t)
	sts := m.sts
	podLabels := sts.Spec.Template.Metadata.Labels
	if !subset(sts.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("StatefulSet selector %v does not match its pod labels %v", sts.Spec.Selector.MatchLabels, podLabels)
	}
	if _, ok := m.services[sts.Spec.ServiceName]; !ok || m.services[sts.Spec.ServiceName].Spec.ClusterIP != "None" {
		t.Errorf("StatefulSet serviceName %q: want a headless Service of that name", sts.Spec.ServiceName)
	}

	vigil := m.container(t, "vigil")
	environ, podName, podIP := podEnviron(t, m, vigil)

	// The configuration file the pods mount is the one the generator packs.
	var cfgPath string
	for i, a := range vigil.Args {
		if a == "--config" && i+1 < len(vigil.Args) {
			cfgPath = vigil.Args[i+1]
		}
	}
	if cfgPath == "" {
		t.Fatalf("vigil container args %q have no --config", vigil.Args)
	}
	var cmName string
	for _, g := range m.kust.ConfigMapGenerator {
		if slices.Contains(g.Files, filepath.Base(k8sConfigFile)) {
			cmName = g.Name
		}
	}
	var mounted bool
	for _, vm := range vigil.VolumeMounts {
		for _, v := range sts.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == cmName &&
				filepath.Join(vm.MountPath, filepath.Base(k8sConfigFile)) == cfgPath {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("--config %s is not the ConfigMap %q (from %s) mounted in the vigil container", cfgPath, cmName, k8sConfigFile)
	}

	cfg := loadConfig(t, k8sConfigFile, environ)
	if got, want := cfg.Node.Name, podName; got != want {
		t.Errorf("node.name = %q, want the pod name %q", got, want)
	}
	if got, want := cfg.Redis.Announce(), net.JoinHostPort(podIP, "6379"); got != want {
		t.Errorf("redis announce address = %q, want %q", got, want)
	}
	var dataMounted bool
	for _, vm := range vigil.VolumeMounts {
		for _, vct := range sts.Spec.VolumeClaimTemplates {
			if vm.Name == vct.Metadata.Name && vm.MountPath == cfg.Node.DataDir {
				dataMounted = true
			}
		}
	}
	if !dataMounted {
		t.Errorf("node.data_dir %s is not a PersistentVolumeClaim mount of the vigil container", cfg.Node.DataDir)
	}
	var wantJoin []string
	_, gossipPort, _ := net.SplitHostPort(cfg.Gossip.BindAddr)
	for i := range sts.Spec.Replicas {
		wantJoin = append(wantJoin, net.JoinHostPort(fmt.Sprintf("%s-%d.%s", sts.Metadata.Name, i, sts.Spec.ServiceName), gossipPort))
	}
	if diff := cmp.Diff(cfg.Gossip.Join, wantJoin); diff != "" {
		t.Errorf("gossip.join does not name every pod (-got +want):\n%s", diff)
	}
	if p := cfg.Failover.InitialPrimary; p != "" && !slices.Contains(podNames(sts), p) {
		t.Errorf("failover.initial_primary %q is not a pod of the StatefulSet", p)
	}

	// Every listener the configuration enables is a named container port.
	ports := make(map[string]string) // name -> "port/protocol"
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = fmt.Sprintf("%d/%s", p.ContainerPort, protocol(p.Protocol))
		}
	}
	for _, l := range []struct{ key, addr, proto string }{
		{"http.listen_addr", cfg.HTTP.ListenAddr, "TCP"},
		{"sentinel.listen_addr", cfg.Sentinel.ListenAddr, "TCP"},
		{"proxy.listen_addr", cfg.Proxy.ListenAddr, "TCP"},
		{"gossip.bind_addr", cfg.Gossip.BindAddr, "TCP"},
		{"gossip.bind_addr", cfg.Gossip.BindAddr, "UDP"},
	} {
		if l.addr == "" {
			continue
		}
		_, port, _ := net.SplitHostPort(l.addr)
		if !slices.Contains(mapValues(ports), port+"/"+l.proto) {
			t.Errorf("%s %s: no container port %s/%s", l.key, l.addr, port, l.proto)
		}
	}

	for name, s := range m.services {
		if !subset(s.Spec.Selector, podLabels) {
			t.Errorf("Service %s selector %v does not match the pod labels %v", name, s.Spec.Selector, podLabels)
		}
		for _, p := range s.Spec.Ports {
			target, ok := p.TargetPort.(string)
			if !ok {
				t.Errorf("Service %s port %s: targetPort %v, want a container port name", name, p.Name, p.TargetPort)
				continue
			}
			got, ok := ports[target]
			if !ok {
				t.Errorf("Service %s port %s: no container port named %q", name, p.Name, target)
				continue
			}
			if !strings.HasSuffix(got, "/"+protocol(p.Protocol)) {
				t.Errorf("Service %s port %s (%s): container port %s is %s", name, p.Name, protocol(p.Protocol), target, got)
			}
		}
	}

	_, httpPort, _ := net.SplitHostPort(cfg.HTTP.ListenAddr)
	for _, pr := range []struct {
		kind string
		p    *probe
		path string
	}{
		{"readinessProbe", vigil.ReadinessProbe, "/-/ready"},
		{"livenessProbe", vigil.LivenessProbe, "/-/healthy"},
	} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("vigil container has no HTTP %s", pr.kind)
			continue
		}
		if pr.p.HTTPGet.Path != pr.path {
			t.Errorf("vigil %s path %q, want %q", pr.kind, pr.p.HTTPGet.Path, pr.path)
		}
		if got := ports[fmt.Sprint(pr.p.HTTPGet.Port)]; got != httpPort+"/TCP" {
			t.Errorf("vigil %s port %v is %q, want http.listen_addr's port %s", pr.kind, pr.p.HTTPGet.Port, got, httpPort)
		}
	}
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
			t.Errorf("container %s has no cpu and memory requests", c.Name)
		}
	}

	if len(m.pdbs) != 1 {
		t.Fatalf("found %d PodDisruptionBudgets, want 1", len(m.pdbs))
	}
	if got := fmt.Sprint(m.pdbs[0].Spec.MaxUnavailable); got != "1" {
		t.Errorf("PodDisruptionBudget maxUnavailable %s, want 1", got)
	}
	if !subset(m.pdbs[0].Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("PodDisruptionBudget selector %v does not match the pod labels", m.pdbs[0].Spec.Selector.MatchLabels)
	}
}

func podNames(sts statefulSet) []string {
	var names []string
	for i := range sts.Spec.Replicas {
		names = append(names, fmt.Sprintf("%s-%d", sts.Metadata.Name, i))
	}
	return names
}

func protocol(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// ---- Dockerfile and systemd -------------------------------------------------

// TestDockerfile checks the image exposes vigil's default ports and runs
// `vigil run`.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	exposed := make(map[string]bool)
	var entrypoint string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "EXPOSE":
			for _, p := range fields[1:] {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				exposed[p] = true
			}
		case "ENTRYPOINT":
			entrypoint = strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
		}
	}
	def := config.Default()
	for _, w := range []struct{ key, addr, proto string }{
		{"http.listen_addr", def.HTTP.ListenAddr, "tcp"},
		{"sentinel.listen_addr", def.Sentinel.ListenAddr, "tcp"},
		{"gossip.bind_addr", def.Gossip.BindAddr, "tcp"},
		{"gossip.bind_addr", def.Gossip.BindAddr, "udp"},
	} {
		_, port, err := net.SplitHostPort(w.addr)
		if err != nil {
			t.Fatalf("default %s %q: %v", w.key, w.addr, err)
		}
		if !exposed[port+"/"+w.proto] {
			t.Errorf("Dockerfile does not EXPOSE %s/%s (default %s)", port, w.proto, w.key)
		}
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil {
		t.Fatalf("ENTRYPOINT %s: want exec (JSON) form: %v", entrypoint, err)
	}
	if len(ep) < 2 || ep[1] != "run" {
		t.Errorf("ENTRYPOINT %q, want the binary and run", ep)
	}
}

// TestSystemdUnit checks the unit runs vigil with the documented file, keeps
// its state, restarts on failure and is sandboxed.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	set := make(map[string][]string)
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: line %q is not key=value", systemdUnit, line)
			continue
		}
		set[section+"."+k] = append(set[section+"."+k], v)
	}
	for key, want := range map[string]string{
		"Service.ExecStart":       "/usr/local/bin/vigil run --config /etc/vigil/vigil.yaml",
		"Service.ExecReload":      "/bin/kill -HUP $MAINPID",
		"Service.Restart":         "on-failure",
		"Service.StateDirectory":  "vigil",
		"Service.ProtectSystem":   "strict",
		"Service.NoNewPrivileges": "yes",
		"Install.WantedBy":        "multi-user.target",
	} {
		if got := set[key]; !slices.Contains(got, want) {
			t.Errorf("%s: %s = %q, want %q", systemdUnit, key, got, want)
		}
	}
	// The state directory must be node.data_dir's default, or the unit
	// would need to set it.
	if got, want := config.Default().Node.DataDir, "/var/lib/vigil"; got != want {
		t.Errorf("default node.data_dir %s, but StateDirectory=vigil is %s", got, want)
	}
}
