// Package deploy_test checks the files of deploy/ so that they do not rot:
// the Kubernetes manifests (every pod hardened, probed, bounded and
// scraped; every Secret and ConfigMap it names exists), esm.yaml and the
// schemas they mount (loaded by the code that loads them in the pod), the
// Prometheus alerting rules and the Grafana dashboard (every query names
// only metrics esm exports). promtool, when installed, checks and unit-tests
// the rules too.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/esm-dev/esm/internal/collector"
	"github.com/esm-dev/esm/internal/config"
)

// image is the repository of esm's image; the tag comes from
// kustomization.yaml.
const image = "ghcr.io/esm-dev/esm"

// doc is one YAML document of a manifest, with where it starts.
type doc struct {
	file string
	line int
	obj  object
}

func (d doc) String() string {
	return fmt.Sprintf("%s:%d: %s %s", d.file, d.line, d.obj.Kind, d.obj.Metadata.Name)
}

// object is the part of a Kubernetes object the tests read.
type object struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   meta      `yaml:"metadata"`
	Spec       yaml.Node `yaml:"spec"`
	Data       map[string]string
	StringData map[string]string `yaml:"stringData"`
}

type meta struct {
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
}

type workloadSpec struct {
	// Job's fields.
	BackoffLimit          *int `yaml:"backoffLimit"`
	ActiveDeadlineSeconds *int `yaml:"activeDeadlineSeconds"`
	PodFailurePolicy      *struct {
		Rules []podFailureRule
	} `yaml:"podFailurePolicy"`

	Replicas *int
	Strategy struct{ Type string }
	Selector labelSelector
	Template struct {
		Metadata meta
		Spec     podSpec
	}
}

// podFailureRule is a rule of a Job's podFailurePolicy.
type podFailureRule struct {
	Action      string
	OnExitCodes *struct {
		ContainerName string `yaml:"containerName"`
		Operator      string
		Values        []int
	} `yaml:"onExitCodes"`
}

// cronJobSpec is the part of a CronJob's spec the tests read.
type cronJobSpec struct {
	Schedule                string
	TimeZone                string `yaml:"timeZone"`
	ConcurrencyPolicy       string `yaml:"concurrencyPolicy"`
	StartingDeadlineSeconds *int64 `yaml:"startingDeadlineSeconds"`
	JobTemplate             struct {
		Spec workloadSpec
	} `yaml:"jobTemplate"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type podSpec struct {
	RestartPolicy                 string           `yaml:"restartPolicy"`
	ServiceAccountName            string           `yaml:"serviceAccountName"`
	AutomountServiceAccountToken  *bool            `yaml:"automountServiceAccountToken"`
	TerminationGracePeriodSeconds *int64           `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               *securityContext `yaml:"securityContext"`
	InitContainers                []container      `yaml:"initContainers"`
	Containers                    []container
	Volumes                       []volume
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Privileged               *bool
	Capabilities             *struct{ Add, Drop []string }
	SeccompProfile           *struct{ Type string } `yaml:"seccompProfile"`
}

type container struct {
	Name       string
	Image      string
	Args       []string
	WorkingDir string `yaml:"workingDir"`
	Env        []envVar
	EnvFrom    []envFrom `yaml:"envFrom"`
	Ports      []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	Resources struct {
		Requests map[string]string
		Limits   map[string]string
	}
	LivenessProbe   *probe           `yaml:"livenessProbe"`
	ReadinessProbe  *probe           `yaml:"readinessProbe"`
	SecurityContext *securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string
	Value     string
	ValueFrom *struct {
		SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		FieldRef        *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type keyRef struct {
	Name, Key string
	Optional  bool
}

type envFrom struct {
	SecretRef    *struct{ Name string } `yaml:"secretRef"`
	ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port any
	} `yaml:"httpGet"`
}

type volume struct {
	Name   string
	Secret *struct {
		SecretName string `yaml:"secretName"`
		Items      []struct{ Key string }
	}
	ConfigMap *struct {
		Name  string
		Items []struct{ Key string }
	} `yaml:"configMap"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
	} `yaml:"persistentVolumeClaim"`
	EmptyDir *struct{} `yaml:"emptyDir"`
}

// readDocs decodes every document of a YAML file.
func readDocs(t *testing.T, file string) []doc {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var docs []doc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(n.Content) == 0 || n.Content[0].Kind == 0 {
			continue // an empty document, e.g. after a trailing ---
		}
		var o object
		if err := n.Decode(&o); err != nil {
			t.Fatalf("%s:%d: %v", file, n.Line, err)
		}
		docs = append(docs, doc{file: file, line: n.Content[0].Line, obj: o})
	}
	return docs
}

// manifestFiles are the YAML files directly in deploy/ that hold
// Kubernetes objects: all but kustomization.yaml.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/")
	}
	return files
}

// kustomization is the part of kustomization.yaml the tests read.
type kustomization struct {
	APIVersion         string `yaml:"apiVersion"`
	Kind               string
	Namespace          string
	Resources          []string
	ConfigMapGenerator []struct {
		Name  string
		Files []string
	} `yaml:"configMapGenerator"`
	Images []kustomizeImage
}

// kustomizeImage is an entry of a kustomization's images.
type kustomizeImage struct {
	Name   string
	NewTag string `yaml:"newTag"`
}

func readKustomization(t *testing.T) kustomization {
	t.Helper()
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// generatedConfigMaps returns the ConfigMaps of kustomization.yaml's
// configMapGenerator, each key with the content of its file.
func generatedConfigMaps(t *testing.T, k kustomization) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, g := range k.ConfigMapGenerator {
		data := map[string]string{}
		for _, f := range g.Files {
			key, path, ok := strings.Cut(f, "=")
			if !ok {
				key, path = filepath.Base(f), f
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("kustomization.yaml: configMapGenerator %s: %v", g.Name, err)
			}
			data[key] = string(b)
		}
		out[g.Name] = data
	}
	return out
}

// allDocs returns the documents of the applied manifests (those listed in
// kustomization.yaml) and of secret.example.yaml.
func allDocs(t *testing.T) (applied []doc, secrets []doc) {
	t.Helper()
	for _, f := range readKustomization(t).Resources {
		applied = append(applied, readDocs(t, f)...)
	}
	return applied, readDocs(t, "secret.example.yaml")
}

func TestManifestsAreObjects(t *testing.T) {
	for _, f := range manifestFiles(t) {
		docs := readDocs(t, f)
		if len(docs) == 0 {
			t.Errorf("%s: no documents", f)
		}
		for _, d := range docs {
			if d.obj.APIVersion == "" || d.obj.Kind == "" || d.obj.Metadata.Name == "" {
				t.Errorf("%s:%d: want apiVersion, kind and metadata.name; have %q, %q, %q",
					d.file, d.line, d.obj.APIVersion, d.obj.Kind, d.obj.Metadata.Name)
			}
		}
	}
}

func TestKustomization(t *testing.T) {
	k := readKustomization(t)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion %q kind %q", k.APIVersion, k.Kind)
	}
	if k.Namespace != "esm" {
		t.Errorf("kustomization.yaml: namespace %q, want esm", k.Namespace)
	}
	for _, f := range manifestFiles(t) {
		listed := slices.Contains(k.Resources, f)
		switch {
		case f == "secret.example.yaml" && listed:
			t.Errorf("kustomization.yaml lists secret.example.yaml: its placeholders would be applied")
		case f != "secret.example.yaml" && !listed:
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(r); err != nil {
			t.Errorf("kustomization.yaml: resource %s: %v", r, err)
		}
		for _, d := range readDocs(t, r) {
			if d.obj.Kind == "Secret" {
				t.Errorf("%s: a Secret among the applied manifests; Secrets are created out of band", d)
			}
		}
	}
	generatedConfigMaps(t, k) // the files exist
	if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool { return i.Name == image && i.NewTag != "" }) {
		t.Errorf("kustomization.yaml: no images entry setting the tag of %s", image)
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl not on PATH: not rendering the kustomization")
		return
	}
	out, err := exec.Command(kubectl, "kustomize", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize deploy/: %v\n%s", err, out)
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubectl kustomize deploy/: output: %v", err)
		}
		n++
		if o.Kind != "Namespace" && o.Metadata.Namespace != "esm" {
			t.Errorf("rendered %s %s: namespace %q, want esm", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
	}
	t.Logf("kubectl kustomize deploy/: %d objects", n)
}

// pod is a pod template of a workload.
type pod struct {
	owner doc
	spec  workloadSpec
	// job is set for the pod of a Job or CronJob: it runs to completion
	// and serves nothing, so it has no probes, Service or metrics.
	job bool
}

// pods returns the pod templates of the applied manifests.
func pods(t *testing.T, docs []doc) []pod {
	t.Helper()
	var out []pod
	for _, d := range docs {
		var s workloadSpec
		switch d.obj.Kind {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			if err := d.obj.Spec.Decode(&s); err != nil {
				t.Fatalf("%s: spec: %v", d, err)
			}
		case "CronJob":
			var cj cronJobSpec
			if err := d.obj.Spec.Decode(&cj); err != nil {
				t.Fatalf("%s: spec: %v", d, err)
			}
			s = cj.JobTemplate.Spec
		default:
			continue
		}
		out = append(out, pod{owner: d, spec: s, job: d.obj.Kind == "Job" || d.obj.Kind == "CronJob"})
	}
	if len(out) == 0 {
		t.Fatal("no workloads in the manifests")
	}
	return out
}

// effective merges a container's security context over its pod's, as
// the kubelet does for the fields both have.
func effective(p, c *securityContext) securityContext {
	var e securityContext
	if p != nil {
		e.RunAsNonRoot, e.RunAsUser, e.SeccompProfile = p.RunAsNonRoot, p.RunAsUser, p.SeccompProfile
	}
	if c != nil {
		if c.RunAsNonRoot != nil {
			e.RunAsNonRoot = c.RunAsNonRoot
		}
		if c.RunAsUser != nil {
			e.RunAsUser = c.RunAsUser
		}
		if c.SeccompProfile != nil {
			e.SeccompProfile = c.SeccompProfile
		}
		e.ReadOnlyRootFilesystem, e.AllowPrivilegeEscalation = c.ReadOnlyRootFilesystem, c.AllowPrivilegeEscalation
		e.Privileged, e.Capabilities = c.Privileged, c.Capabilities
	}
	return e
}

func isTrue(b *bool) bool { return b != nil && *b }

// securityProblems lists what keeps a container from running non-root,
// read-only, without capabilities and under the runtime's seccomp profile.
func securityProblems(s securityContext) []string {
	var p []string
	if !isTrue(s.RunAsNonRoot) {
		p = append(p, "runAsNonRoot is not true")
	}
	if s.RunAsUser == nil || *s.RunAsUser != 65532 {
		p = append(p, "runAsUser is not 65532")
	}
	if !isTrue(s.ReadOnlyRootFilesystem) {
		p = append(p, "readOnlyRootFilesystem is not true")
	}
	if s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
		p = append(p, "allowPrivilegeEscalation is not false")
	}
	if isTrue(s.Privileged) {
		p = append(p, "privileged")
	}
	if s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") {
		p = append(p, "capabilities do not drop ALL")
	} else if len(s.Capabilities.Add) > 0 {
		p = append(p, fmt.Sprintf("capabilities add %v", s.Capabilities.Add))
	}
	if s.SeccompProfile == nil || s.SeccompProfile.Type != "RuntimeDefault" {
		p = append(p, "seccompProfile is not RuntimeDefault")
	}
	return p
}

func TestPods(t *testing.T) {
	applied, _ := allDocs(t)
	for _, p := range pods(t, applied) {
		spec := p.spec.Template.Spec
		t.Run(p.owner.obj.Metadata.Name, func(t *testing.T) {
			if g := spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
				t.Errorf("%s: terminationGracePeriodSeconds below 30 s (or unset)", p.owner)
			}
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Errorf("%s: automountServiceAccountToken is not false: esm does not call the Kubernetes API", p.owner)
			}
			if !p.job && !labelsMatch(p.spec.Selector.MatchLabels, p.spec.Template.Metadata.Labels) {
				t.Errorf("%s: the selector %v does not select the pod's labels %v", p.owner, p.spec.Selector.MatchLabels, p.spec.Template.Metadata.Labels)
			}
			all := append(slices.Clone(spec.InitContainers), spec.Containers...)
			for _, c := range all {
				where := fmt.Sprintf("%s: container %s", p.owner, c.Name)
				for _, problem := range securityProblems(effective(spec.SecurityContext, c.SecurityContext)) {
					t.Errorf("%s: %s", where, problem)
				}
				for _, r := range []string{"cpu", "memory"} {
					if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
						t.Errorf("%s: no %s request and limit", where, r)
					}
				}
				if !strings.HasPrefix(c.Image, image+":") {
					t.Errorf("%s: image %q, want %s:<tag>", where, c.Image, image)
				}
			}
			if p.job {
				if spec.RestartPolicy != "Never" && spec.RestartPolicy != "OnFailure" {
					t.Errorf("%s: restartPolicy %q: a Job's pod needs Never or OnFailure", p.owner, spec.RestartPolicy)
				}
				if p.spec.ActiveDeadlineSeconds == nil {
					t.Errorf("%s: no activeDeadlineSeconds: a hung run would hold the next one back", p.owner)
				}
				return // it serves nothing: no probes, no metrics
			}
			for _, c := range spec.Containers {
				where := fmt.Sprintf("%s: container %s", p.owner, c.Name)
				checkProbe(t, where, "livenessProbe", c.LivenessProbe, "/healthz", c)
				checkProbe(t, where, "readinessProbe", c.ReadinessProbe, "/readyz", c)
				if !slices.ContainsFunc(c.Env, func(e envVar) bool {
					return e.Name == "DD_AGENT_HOST" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil &&
						e.ValueFrom.FieldRef.FieldPath == "status.hostIP"
				}) {
					t.Errorf("%s: DD_AGENT_HOST is not the node's IP (fieldRef status.hostIP), where the Datadog agent listens", where)
				}
				for _, m := range c.VolumeMounts {
					if m.MountPath == "/schemas" && m.SubPath != "" {
						t.Errorf("%s: /schemas mounted with subPath: the kubelet would not update it and the collector would not reload", where)
					}
				}
			}
			checkScrapeAnnotations(t, p)
		})
	}
}

// checkProbe checks that a probe GETs path on a port of the container.
func checkProbe(t *testing.T, where, name string, p *probe, path string, c container) {
	t.Helper()
	switch {
	case p == nil:
		t.Errorf("%s: no %s", where, name)
	case p.HTTPGet == nil:
		t.Errorf("%s: %s is not an httpGet", where, name)
	case p.HTTPGet.Path != path:
		t.Errorf("%s: %s GETs %s, want %s", where, name, p.HTTPGet.Path, path)
	default:
		if _, ok := containerPort(c, p.HTTPGet.Port); !ok {
			t.Errorf("%s: %s port %v is not a port of the container", where, name, p.HTTPGet.Port)
		}
	}
}

// containerPort resolves a port given by name or number.
func containerPort(c container, port any) (int, bool) {
	for _, p := range c.Ports {
		switch v := port.(type) {
		case string:
			if p.Name == v || strconv.Itoa(p.ContainerPort) == v {
				return p.ContainerPort, true
			}
		case int:
			if p.ContainerPort == v {
				return v, true
			}
		}
	}
	return 0, false
}

// checkScrapeAnnotations checks the Datadog agent's autodiscovery check
// and the prometheus.io annotations of a pod.
func checkScrapeAnnotations(t *testing.T, p pod) {
	t.Helper()
	ann := p.spec.Template.Metadata.Annotations
	found := 0
	for key, value := range ann {
		name, ok := strings.CutPrefix(key, "ad.datadoghq.com/")
		if !ok || !strings.HasSuffix(name, ".checks") {
			continue
		}
		found++
		where := fmt.Sprintf("%s: annotation %s", p.owner, key)
		cname := strings.TrimSuffix(name, ".checks")
		i := slices.IndexFunc(p.spec.Template.Spec.Containers, func(c container) bool { return c.Name == cname })
		if i < 0 {
			t.Errorf("%s: names no container of the pod (%s)", where, cname)
			continue
		}
		for _, problem := range autodiscoveryProblems(value, p.spec.Template.Spec.Containers[i]) {
			t.Errorf("%s: %s", where, problem)
		}
	}
	if found == 0 {
		t.Errorf("%s: no ad.datadoghq.com/<container>.checks annotation: the Datadog agent would not scrape /metrics", p.owner)
	}
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: want the annotations prometheus.io/scrape \"true\" and prometheus.io/path /metrics", p.owner)
	}
	for _, c := range p.spec.Template.Spec.Containers {
		if _, ok := containerPort(c, ann["prometheus.io/port"]); ok {
			return
		}
	}
	t.Errorf("%s: prometheus.io/port %q is no container's port", p.owner, ann["prometheus.io/port"])
}

// autodiscoveryProblems checks the JSON of an ad.datadoghq.com checks
// annotation: an openmetrics check of the container's /metrics under the
// namespace esm.
func autodiscoveryProblems(value string, c container) []string {
	var checks map[string]struct {
		Instances []struct {
			Endpoint  string `json:"openmetrics_endpoint"`
			Namespace string `json:"namespace"`
			Metrics   []any  `json:"metrics"`
		} `json:"instances"`
	}
	dec := json.NewDecoder(strings.NewReader(value))
	if err := dec.Decode(&checks); err != nil {
		return []string{fmt.Sprintf("not valid JSON: %v", err)}
	}
	om, ok := checks["openmetrics"]
	if !ok || len(om.Instances) == 0 {
		return []string{"no openmetrics check instance"}
	}
	var problems []string
	for _, in := range om.Instances {
		u, err := url.Parse(strings.ReplaceAll(in.Endpoint, "%%host%%", "host"))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("openmetrics_endpoint %q: %v", in.Endpoint, err))
		case !strings.Contains(in.Endpoint, "%%host%%"):
			problems = append(problems, fmt.Sprintf("openmetrics_endpoint %q does not use %%%%host%%%%, the pod's IP", in.Endpoint))
		case u.Path != "/metrics":
			problems = append(problems, fmt.Sprintf("openmetrics_endpoint %q does not name /metrics", in.Endpoint))
		default:
			if _, ok := containerPort(c, u.Port()); !ok {
				problems = append(problems, fmt.Sprintf("openmetrics_endpoint %q: port %s is not a port of the container", in.Endpoint, u.Port()))
			}
		}
		if in.Namespace != "esm" {
			problems = append(problems, fmt.Sprintf("namespace %q, want esm", in.Namespace))
		}
		if len(in.Metrics) == 0 {
			problems = append(problems, "no metrics to collect")
		}
	}
	return problems
}

func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestSecretReferences(t *testing.T) {
	applied, examples := allDocs(t)
	keys := map[string][]string{} // Secret name → its keys
	for _, d := range examples {
		if d.obj.Kind != "Secret" {
			t.Errorf("%s: secret.example.yaml holds only Secrets", d)
			continue
		}
		for k, v := range d.obj.StringData {
			keys[d.obj.Metadata.Name] = append(keys[d.obj.Metadata.Name], k)
			if !strings.HasPrefix(v, "<") || !strings.HasSuffix(v, ">") {
				t.Errorf("%s: %s is not a <placeholder>: secret.example.yaml must not hold a real value", d, k)
			}
		}
		for k := range d.obj.Data {
			t.Errorf("%s: %s in data: write placeholders under stringData", d, k)
		}
	}
	if !bytes.Contains(bytes.ToLower(mustRead(t, "secret.example.yaml")), []byte("not commit")) {
		t.Error("secret.example.yaml: the comment that it must not be committed with real values is missing")
	}
	ref := func(where, name, key string) {
		have, ok := keys[name]
		switch {
		case !ok:
			t.Errorf("%s: Secret %q is not in secret.example.yaml", where, name)
		case key != "" && !slices.Contains(have, key):
			t.Errorf("%s: Secret %s has no key %q in secret.example.yaml", where, name, key)
		}
	}
	refs := 0
	for _, p := range pods(t, applied) {
		spec := p.spec.Template.Spec
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			where := fmt.Sprintf("%s: container %s", p.owner, c.Name)
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					refs++
					ref(where+": env "+e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
					if e.Value != "" {
						t.Errorf("%s: env %s has both a value and a Secret reference", where, e.Name)
					}
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					refs++
					ref(where+": envFrom", e.SecretRef.Name, "")
				}
			}
			for _, e := range c.Env {
				if e.Value != "" && secretLooking(e.Name) {
					t.Errorf("%s: env %s has a literal value: take it from a Secret", where, e.Name)
				}
			}
		}
		for _, v := range spec.Volumes {
			if v.Secret != nil {
				refs++
				ref(fmt.Sprintf("%s: volume %s", p.owner, v.Name), v.Secret.SecretName, "")
				for _, it := range v.Secret.Items {
					ref(fmt.Sprintf("%s: volume %s", p.owner, v.Name), v.Secret.SecretName, it.Key)
				}
			}
		}
	}
	if refs == 0 {
		t.Error("no pod references a Secret")
	}
}

// secretLooking reports whether an environment variable's name says it
// holds a secret.
func secretLooking(name string) bool {
	for _, s := range []string{"SECRET", "TOKEN", "PASSWORD", "API_KEY", "APP_KEY", "PRIVATE_KEY"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// configMaps returns the ConfigMaps the kustomization makes: those of the
// manifests and those of its generators.
func configMaps(t *testing.T, applied []doc) map[string]map[string]string {
	t.Helper()
	cms := generatedConfigMaps(t, readKustomization(t))
	for _, d := range applied {
		if d.obj.Kind == "ConfigMap" {
			if _, dup := cms[d.obj.Metadata.Name]; dup {
				t.Errorf("%s: ConfigMap defined twice", d)
			}
			cms[d.obj.Metadata.Name] = d.obj.Data
		}
	}
	return cms
}

func TestConfigMapReferences(t *testing.T) {
	applied, _ := allDocs(t)
	cms := configMaps(t, applied)
	for _, p := range pods(t, applied) {
		spec := p.spec.Template.Spec
		for _, v := range spec.Volumes {
			if v.ConfigMap == nil {
				continue
			}
			data, ok := cms[v.ConfigMap.Name]
			if !ok {
				t.Errorf("%s: volume %s: no ConfigMap %q in the manifests or kustomization.yaml", p.owner, v.Name, v.ConfigMap.Name)
			}
			for _, it := range v.ConfigMap.Items {
				if _, ok := data[it.Key]; !ok {
					t.Errorf("%s: volume %s: ConfigMap %s has no key %q", p.owner, v.Name, v.ConfigMap.Name, it.Key)
				}
			}
		}
		for _, c := range spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					r := e.ValueFrom.ConfigMapKeyRef
					if _, ok := cms[r.Name][r.Key]; !ok && !r.Optional {
						t.Errorf("%s: container %s: env %s: no key %q in ConfigMap %q", p.owner, c.Name, e.Name, r.Key, r.Name)
					}
				}
			}
		}
	}
}

// argValue returns the value of a flag in args ("--env prod" or
// "--env=prod").
func argValue(args []string, flag string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// env returns the value of a container's environment variable.
func env(c container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// mountedFile returns the ConfigMap and key a container sees at path.
func mountedFile(spec podSpec, c container, path string) (cm, key string, ok bool) {
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				if m.SubPath != "" {
					return v.ConfigMap.Name, m.SubPath, rel == "."
				}
				return v.ConfigMap.Name, rel, true
			}
		}
	}
	return "", "", false
}

// TestConfig loads the esm.yaml each pod reads, as esm serve does, and
// checks that its ESM_ENV is one of the file's environments.
func TestConfig(t *testing.T) {
	applied, _ := allDocs(t)
	cms := configMaps(t, applied)
	for _, p := range pods(t, applied) {
		spec := p.spec.Template.Spec
		for _, c := range spec.Containers {
			where := fmt.Sprintf("%s: container %s", p.owner, c.Name)
			path, ok := env(c, "ESM_CONFIG")
			if p.job {
				path, ok = argValue(c.Args, "--config")
			}
			if !ok {
				t.Errorf("%s: no ESM_CONFIG (or --config for a job)", where)
				continue
			}
			name, key, ok := mountedFile(spec, c, path)
			if !ok {
				t.Errorf("%s: ESM_CONFIG %s is not in a mounted ConfigMap", where, path)
				continue
			}
			src, ok := cms[name][key]
			if !ok {
				t.Errorf("%s: ESM_CONFIG %s: ConfigMap %s has no key %s", where, path, name, key)
				continue
			}
			conf, err := config.Parse(path, []byte(src))
			if err != nil {
				t.Errorf("%s: ConfigMap %s: %v", where, name, err)
				continue
			}
			e, ok := env(c, "ESM_ENV")
			if p.job {
				e, ok = argValue(c.Args, "--env")
			}
			if !ok {
				t.Errorf("%s: no ESM_ENV (or --env for a job)", where)
			} else if _, err := conf.Env(e); err != nil {
				t.Errorf("%s: ESM_ENV: %v", where, err)
			}
		}
	}
}

type nopMeter struct{}

func (nopMeter) Counter(string) collector.Counter { return nopCounter{} }
func (nopMeter) SchemaReload(error, int)          {}

type nopCounter struct{}

func (nopCounter) Received(int)                   {}
func (nopCounter) Rejected(collector.Reason, int) {}

// TestSchemas lays out the schemas ConfigMap the way the kubelet mounts a
// ConfigMap volume (each key a symlink through ..data into a hidden
// timestamped directory) and loads it with the collector's registry.
func TestSchemas(t *testing.T) {
	applied, _ := allDocs(t)
	cms := configMaps(t, applied)
	checked := 0
	for _, p := range pods(t, applied) {
		spec := p.spec.Template.Spec
		for _, c := range spec.Containers {
			dir, ok := env(c, "ESM_SCHEMAS")
			if !ok {
				continue
			}
			checked++
			name, key, ok := mountedFile(spec, c, dir)
			if !ok || key != "." {
				t.Errorf("%s: container %s: ESM_SCHEMAS %s is not a mounted ConfigMap directory", p.owner, c.Name, dir)
				continue
			}
			mnt := kubeletLayout(t, cms[name])
			reg, err := collector.NewRegistry(mnt, nopMeter{}, nil)
			if err != nil {
				t.Errorf("%s: ConfigMap %s: %v", p.owner, name, err)
				continue
			}
			if len(reg.Types()) == 0 {
				t.Errorf("%s: ConfigMap %s: no event types", p.owner, name)
			}
		}
	}
	if checked == 0 {
		t.Error("no container sets ESM_SCHEMAS")
	}
}

// kubeletLayout writes data as the kubelet writes a ConfigMap volume.
func kubeletLayout(t *testing.T, data map[string]string) string {
	t.Helper()
	mnt := t.TempDir()
	ts := "..2026_01_01_00_00_00.000000001"
	if err := os.Mkdir(filepath.Join(mnt, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(mnt, ts, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(mnt, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(mnt, "..data")); err != nil {
		t.Fatal(err)
	}
	return mnt
}

func TestRoles(t *testing.T) {
	applied, _ := allDocs(t)
	byKind := map[string]map[string]doc{}
	for _, d := range applied {
		if byKind[d.obj.Kind] == nil {
			byKind[d.obj.Kind] = map[string]doc{}
		}
		byKind[d.obj.Kind][d.obj.Metadata.Name] = d
	}
	workloads := map[string]pod{}
	for _, p := range pods(t, applied) {
		workloads[p.owner.obj.Metadata.Name] = p
	}

	bot, ok := workloads["esm-bot"]
	if !ok {
		t.Fatal("no Deployment esm-bot")
	}
	checkSingleton(t, bot, "the bot serialises the runs of a repository in-process")
	checkRole(t, bot, "bot", "ESM_ALLOWED_REPOS", "ESM_WEBHOOK_SECRET", "ESM_ENV")

	col, ok := workloads["esm-collector"]
	if !ok {
		t.Fatal("no Deployment esm-collector")
	}
	if r := col.spec.Replicas; r == nil || *r < 2 {
		t.Errorf("%s: want at least 2 replicas", col.owner)
	}
	checkRole(t, col, "collector", "ESM_SCHEMAS", "ESM_ENV")

	qr, ok := workloads["esm-queries"]
	if !ok {
		t.Fatal("no Deployment esm-queries")
	}
	checkSingleton(t, qr, "a second pod would run every query again and write the same stored results")
	checkRole(t, qr, "queries", "ESM_QUERIES", "ESM_ENV", "ESM_CONFIG")

	for name := range byKind["HorizontalPodAutoscaler"] {
		d := byKind["HorizontalPodAutoscaler"][name]
		if d.obj.APIVersion != "autoscaling/v2" {
			t.Errorf("%s: apiVersion %s, want autoscaling/v2", d, d.obj.APIVersion)
		}
	}
	hpa, ok := byKind["HorizontalPodAutoscaler"]["esm-collector"]
	if !ok {
		t.Error("no HorizontalPodAutoscaler esm-collector")
	} else {
		var s struct {
			ScaleTargetRef struct{ Kind, Name string } `yaml:"scaleTargetRef"`
			MinReplicas    int                         `yaml:"minReplicas"`
			MaxReplicas    int                         `yaml:"maxReplicas"`
			Metrics        []struct {
				Type     string
				Resource struct {
					Name   string
					Target struct {
						Type               string
						AverageUtilization int `yaml:"averageUtilization"`
					}
				}
			}
		}
		if err := hpa.obj.Spec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", hpa, err)
		}
		if s.ScaleTargetRef.Kind != "Deployment" || s.ScaleTargetRef.Name != "esm-collector" {
			t.Errorf("%s: scales %s %s, want Deployment esm-collector", hpa, s.ScaleTargetRef.Kind, s.ScaleTargetRef.Name)
		}
		if s.MinReplicas != 2 || s.MaxReplicas != 10 {
			t.Errorf("%s: replicas %d to %d, want 2 to 10", hpa, s.MinReplicas, s.MaxReplicas)
		}
		if len(s.Metrics) != 1 || s.Metrics[0].Resource.Name != "cpu" || s.Metrics[0].Resource.Target.AverageUtilization != 70 {
			t.Errorf("%s: want one metric, CPU at 70 %% utilisation", hpa)
		}
	}
	for _, hpa := range byKind["HorizontalPodAutoscaler"] {
		var s struct {
			ScaleTargetRef struct{ Name string } `yaml:"scaleTargetRef"`
		}
		_ = hpa.obj.Spec.Decode(&s)
		if s.ScaleTargetRef.Name == "esm-bot" {
			t.Errorf("%s: the bot must not be autoscaled", hpa)
		}
	}

	pdb, ok := byKind["PodDisruptionBudget"]["esm-collector"]
	if !ok {
		t.Error("no PodDisruptionBudget esm-collector")
	} else {
		var s struct{ Selector labelSelector }
		if err := pdb.obj.Spec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", pdb, err)
		}
		if !labelsMatch(s.Selector.MatchLabels, col.spec.Template.Metadata.Labels) {
			t.Errorf("%s: does not select the collector's pods", pdb)
		}
	}

	for _, name := range []string{"esm-bot", "esm-collector"} {
		svc, ok := byKind["Service"][name]
		if !ok {
			t.Errorf("no Service %s", name)
			continue
		}
		var s struct {
			Selector map[string]string
			Ports    []struct {
				Port       int
				TargetPort any `yaml:"targetPort"`
			}
		}
		if err := svc.obj.Spec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		p := workloads[name]
		if !labelsMatch(s.Selector, p.spec.Template.Metadata.Labels) {
			t.Errorf("%s: selector %v does not select the pods of %s", svc, s.Selector, name)
		}
		if len(s.Ports) != 1 || s.Ports[0].Port != 80 {
			t.Errorf("%s: want one port, 80", svc)
			continue
		}
		if n, ok := containerPort(p.spec.Template.Spec.Containers[0], s.Ports[0].TargetPort); !ok || n != 8080 {
			t.Errorf("%s: targetPort %v is not the container's port 8080", svc, s.Ports[0].TargetPort)
		}
	}
}

// checkSingleton checks that a workload has exactly one replica and is
// recreated on rollout, so that two pods never run at once; why says
// what a second one would break.
func checkSingleton(t *testing.T, p pod, why string) {
	t.Helper()
	if r := p.spec.Replicas; r == nil || *r != 1 {
		t.Errorf("%s: want exactly 1 replica: %s", p.owner, why)
	}
	if p.spec.Strategy.Type != "Recreate" {
		t.Errorf("%s: strategy %q: want Recreate, so that two pods never run at once: %s", p.owner, p.spec.Strategy.Type, why)
	}
}

// checkRole checks that a workload runs esm serve --role role with the
// given environment variables set.
func checkRole(t *testing.T, p pod, role string, vars ...string) {
	t.Helper()
	if len(p.spec.Template.Spec.Containers) != 1 {
		t.Errorf("%s: want one container", p.owner)
		return
	}
	c := p.spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"serve", "--role", role}) {
		t.Errorf("%s: args %q, want [serve --role %s]", p.owner, c.Args, role)
	}
	for _, v := range vars {
		if _, ok := env(c, v); !ok {
			t.Errorf("%s: no %s", p.owner, v)
		}
	}
}
