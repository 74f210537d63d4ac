package runbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KindDecoder validates and decodes the `with:` block of steps of one kind.
type KindDecoder interface {
	// DecodeWith checks a step's settings (with may be nil when the step has none), reports
	// problems through d, and returns the decoded settings stored in Step.Spec.
	DecodeWith(d *Decoder, s *Step, with *yaml.Node) any
}

// Kinds is the set of step kinds a runbook may use.
type Kinds interface {
	Lookup(kind string) (KindDecoder, bool)
	Names() []string
}

// Options tune parsing.
type Options struct {
	// Kinds are the known step kinds. Required.
	Kinds Kinds
	// LookupEnv finds environment variables (password_env); os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// Regions are the valid LCS region names; any non-empty name is accepted when nil.
	Regions []string
	// SkipSecretChecks turns off the checks that secret environment variables and files exist
	// (used when a runbook is only inspected, never run).
	SkipSecretChecks bool
	// SameLCSID reports whether two LCS environment ids name the same environment (lcs.SameID:
	// LCS writes ids dashed and undashed, and people copy them in any case). nil compares them
	// ignoring case and surrounding spaces only.
	SameLCSID func(a, b string) bool
}

var stepIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// MaxStepID is the longest step id a runbook may use, in characters. Ids are what operators type
// in the cockpit's palette and on the command line, and the cockpit never cuts one: 64 characters
// fit whole, beside the step's state, on the runbook pane of an 80-column terminal.
const MaxStepID = 64

// Load reads and validates the runbook at path.
func Load(path string, opts Options) (*Runbook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no runbook at %s (write one with `cutover init`, or point at one with -f FILE): %w", path, err)
		}
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse validates a runbook's bytes. file names it in problems. On any problem the error is a
// Problems value listing all of them, sorted by position, and no Runbook is returned.
func Parse(file string, data []byte, opts Options) (*Runbook, error) {
	if opts.Kinds == nil {
		return nil, errors.New("runbook: no step kinds registered")
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	p := &parser{d: Decoder{file: file, sameLCSID: opts.SameLCSID}, opts: opts}
	sum := sha256.Sum256(data)
	rb := &Runbook{File: file, Dir: filepath.Dir(file), Hash: hex.EncodeToString(sum[:]), byID: map[string]*Step{}}
	p.rb, p.d.rb = rb, rb

	root, err := decodeYAML(data)
	if err != nil {
		p.d.problems = append(p.d.problems, yamlProblem(file, err))
		return nil, p.d.problems
	}
	if root == nil {
		p.d.ErrorAt(Pos{Line: 1, Col: 1}, "", "the runbook is empty (start from `cutover init`)")
		return nil, p.d.problems
	}
	p.top(root)
	p.graph()
	if len(p.d.problems) > 0 {
		return nil, p.d.problems.sorted()
	}
	return rb, nil
}

func decodeYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("yaml: line %d: a runbook is one YAML document; remove the second `---` document", extra.Line)
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlProblem turns a YAML syntax error into a positioned problem.
func yamlProblem(file string, err error) Problem {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Pos: Pos{Line: line, Col: 1}, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{File: file, Pos: Pos{Line: 1, Col: 1}, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

type parser struct {
	d    Decoder
	opts Options
	rb   *Runbook
}

func (p *parser) top(root *yaml.Node) {
	rb := p.rb
	d := &p.d
	var stepsNode *yaml.Node
	var defaults struct {
		timeout, backoff *yaml.Node
		retries          *yaml.Node
	}
	present := d.Fields(root, "", map[string]Field{
		"name":        func(v *yaml.Node) { rb.Name = d.NonEmpty(v, "", "name") },
		"environment": func(v *yaml.Node) { rb.Environment = d.NonEmpty(v, "", "environment") },
		"rehearsal":   func(v *yaml.Node) { rb.Rehearsal = d.Bool(v, "", "rehearsal") },
		"parallelism": func(v *yaml.Node) { rb.Parallelism = d.Int(v, "", "parallelism", 0, 1000) },
		"connections": func(v *yaml.Node) { p.connections(v) },
		"lcs":         func(v *yaml.Node) { rb.LCS = p.lcs(v) },
		"aos":         func(v *yaml.Node) { rb.AOS = p.aos(v) },
		"downtime":    func(v *yaml.Node) { rb.Downtime = p.downtime(v) },
		"baseline":    func(v *yaml.Node) { rb.Baseline = p.baseline(v) },
		"notify":      func(v *yaml.Node) { rb.Notify = p.notify(v) },
		"http":        func(v *yaml.Node) { rb.HTTP = p.http(v) },
		"defaults": func(v *yaml.Node) {
			d.Fields(v, "defaults", map[string]Field{
				"timeout":       func(v *yaml.Node) { defaults.timeout = v },
				"retries":       func(v *yaml.Node) { defaults.retries = v },
				"retry_backoff": func(v *yaml.Node) { defaults.backoff = v },
			})
		},
		"steps": func(v *yaml.Node) { stepsNode = v },
	})
	d.Require(root, "", present, "name", "steps")
	if stepsNode == nil {
		return
	}
	if stepsNode.Kind != yaml.SequenceNode {
		d.Errorf(stepsNode, "", "steps: expected a list of steps, found %s", describe(stepsNode))
		return
	}
	if len(stepsNode.Content) == 0 {
		d.Errorf(stepsNode, "", "steps: the list is empty")
	}
	for _, n := range stepsNode.Content {
		s := p.step(resolve(n), defaults.timeout, defaults.retries, defaults.backoff)
		if s == nil {
			continue
		}
		if prev, dup := rb.byID[s.ID]; dup {
			d.ErrorAt(s.Pos, "", "duplicate step id %q (first defined at line %d)", s.ID, prev.Pos.Line)
			continue
		}
		rb.byID[s.ID] = s
		rb.Steps = append(rb.Steps, s)
		if !contains(rb.Phases, s.Phase) {
			rb.Phases = append(rb.Phases, s.Phase)
		}
	}
	if dt := rb.Downtime; dt != nil {
		for _, ref := range []struct{ key, id string }{{"begins_with", dt.BeginsWith}, {"point_of_no_return", dt.PointOfNoReturn}, {"rollback_point", dt.RollbackPoint}} {
			if _, ok := rb.byID[ref.id]; ref.id != "" && !ok {
				d.ErrorAt(dt.posOf(ref.key), "downtime", "%s: no step has id %q", ref.key, ref.id)
			}
		}
		if dt.RollbackPoint != "" && dt.PointOfNoReturn == "" {
			d.ErrorAt(dt.posOf("rollback_point"), "downtime", "rollback_point: it guards the point of no return: name that step too (point_of_no_return)")
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) step(n *yaml.Node, defTimeout, defRetries, defBackoff *yaml.Node) *Step {
	d := &p.d
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "", "steps: each step is a mapping with at least id, title and kind; found %s", describe(n))
		return nil
	}
	s := &Step{Pos: posOf(n), Retries: -1, RetryBackoff: -1, Timeout: -1}
	// The id comes first so every other problem can name the step.
	where := "step"
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == "id" {
			if v := resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode && v.Value != "" {
				where = fmt.Sprintf("step %q", v.Value)
			}
		}
	}
	var with *yaml.Node
	var withGiven bool
	present := d.Fields(n, where, map[string]Field{
		"id": func(v *yaml.Node) {
			s.ID = d.NonEmpty(v, where, "id")
			switch {
			case s.ID != "" && !stepIDPattern.MatchString(s.ID):
				d.Errorf(v, where, "id: %q may only use letters, digits, '.', '_' and '-' (and start with a letter or digit)", s.ID)
			case len(s.ID) > MaxStepID:
				d.Errorf(v, where, "id: %q is %d characters; at most %d (ids are typed in the cockpit and on the command line, and shown whole)", s.ID, len(s.ID), MaxStepID)
			}
			s.Pos = posOf(v)
		},
		"title":       func(v *yaml.Node) { s.Title = d.NonEmpty(v, where, "title") },
		"phase":       func(v *yaml.Node) { s.Phase = d.NonEmpty(v, where, "phase") },
		"kind":        func(v *yaml.Node) { s.Kind = d.NonEmpty(v, where, "kind") },
		"description": func(v *yaml.Node) { s.Description = d.String(v, where, "description") },
		"owner":       func(v *yaml.Node) { s.Owner = d.String(v, where, "owner") },
		"doc":         func(v *yaml.Node) { s.Doc = d.NonEmpty(v, where, "doc") },
		"with":        func(v *yaml.Node) { with, withGiven = v, true },
		"after":       func(v *yaml.Node) { s.After, s.afterPos = d.StringsPos(v, where, "after") },
		"when":        func(v *yaml.Node) { s.When = p.when(v, where) },
		"planned":     func(v *yaml.Node) { s.Planned = d.Duration(v, where, "planned") },
		"timeout":     func(v *yaml.Node) { s.Timeout = d.Duration(v, where, "timeout") },
		"retries":     func(v *yaml.Node) { s.Retries = d.Int(v, where, "retries", 0, 100) },
		"retry_backoff": func(v *yaml.Node) {
			s.RetryBackoff = d.Duration(v, where, "retry_backoff")
		},
		"destructive": func(v *yaml.Node) { s.Destructive = d.Bool(v, where, "destructive") },
		"confirm": func(v *yaml.Node) {
			s.Confirm = strings.TrimSpace(d.NonEmpty(v, where, "confirm"))
		},
		"approvals":  func(v *yaml.Node) { s.Approvals = d.Int(v, where, "approvals", 1, 10) },
		"idempotent": func(v *yaml.Node) { s.Idempotent = d.Bool(v, where, "idempotent") },
		"exclusive":  func(v *yaml.Node) { s.Exclusive = d.Bool(v, where, "exclusive") },
	})
	d.Require(n, where, present, "id", "title", "kind")
	if s.Phase == "" {
		s.Phase = "Cutover"
	}
	if s.Timeout < 0 {
		s.Timeout = 0
		if defTimeout != nil {
			s.Timeout = d.Duration(defTimeout, "defaults", "timeout")
		}
	}
	if s.Retries < 0 {
		s.Retries = 0
		if defRetries != nil {
			s.Retries = d.Int(defRetries, "defaults", "retries", 0, 100)
		}
	}
	if s.RetryBackoff < 0 {
		s.RetryBackoff = 0
		if defBackoff != nil {
			s.RetryBackoff = d.Duration(defBackoff, "defaults", "retry_backoff")
		}
	}
	if s.Kind != "" {
		kd, ok := p.opts.Kinds.Lookup(s.Kind)
		if !ok {
			kn := present["kind"]
			names := p.opts.Kinds.Names()
			if hint := suggest(s.Kind, names); hint != "" {
				d.Errorf(kn, where, "unknown kind %q (did you mean %q?)", s.Kind, hint)
			} else {
				d.Errorf(kn, where, "unknown kind %q (known kinds: %s)", s.Kind, strings.Join(names, ", "))
			}
		} else {
			if withGiven {
				s.With = with
			}
			before := len(d.problems)
			spec := kd.DecodeWith(d, s, s.With)
			if len(d.problems) == before {
				s.Spec = spec
			}
		}
	}
	if s.ID == "" {
		return nil
	}
	return s
}

// when decodes a step's condition: `when: {failed: ID}`. That the step exists is checked with the
// other references (graph).
func (p *parser) when(n *yaml.Node, where string) *Condition {
	d := &p.d
	n = resolve(n)
	c := &Condition{Pos: posOf(n)}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, where, "when: expected a mapping such as {failed: STEP-ID} (the step runs only if that step fails), found %s", describe(n))
		return nil
	}
	present := d.Fields(n, where+" when", map[string]Field{
		"failed": func(v *yaml.Node) {
			c.Failed = d.NonEmpty(v, where+" when", "failed")
			c.Pos = posOf(v)
		},
	})
	d.Require(n, where+" when", present, "failed")
	if c.Failed == "" {
		return nil
	}
	return c
}

func (p *parser) connections(n *yaml.Node) {
	d := &p.d
	c := &p.rb.Connections
	d.Fields(n, "connections", map[string]Field{
		"source":       func(v *yaml.Node) { c.Source = p.connection(v, "source") },
		"distribution": func(v *yaml.Node) { c.Distribution = p.connection(v, "distribution") },
		"target":       func(v *yaml.Node) { c.Target = p.connection(v, "target") },
	})
}

func (p *parser) connection(n *yaml.Node, role string) *Connection {
	d := &p.d
	where := "connections." + role
	c := &Connection{Role: role, Pos: posOf(n), Auth: AuthSQL, Encrypt: EncryptTrue}
	var encryptNode, secretNode *yaml.Node
	present := d.Fields(n, where, map[string]Field{
		"server":   func(v *yaml.Node) { c.Server = d.NonEmpty(v, where, "server") },
		"port":     func(v *yaml.Node) { c.Port = d.Int(v, where, "port", 1, 65535) },
		"instance": func(v *yaml.Node) { c.Instance = d.NonEmpty(v, where, "instance") },
		"database": func(v *yaml.Node) { c.Database = d.NonEmpty(v, where, "database") },
		"auth": func(v *yaml.Node) {
			c.Auth = AuthMode(d.Enum(v, where, "auth", string(AuthSQL), string(AuthWindows), string(AuthEntraDefault),
				string(AuthEntraPassword), string(AuthEntraServicePrincipal), string(AuthEntraManagedIdentity),
				string(AuthEntraInteractive), string(AuthEntraDeviceCode)))
		},
		"user": func(v *yaml.Node) { c.User = d.NonEmpty(v, where, "user") },
		"password": func(v *yaml.Node) {
			d.Errorf(v, where, "password: inline passwords are refused; put the secret in an environment variable (password_env), a file readable only by you (password_file), or use Entra ID (auth: entra-…)")
		},
		"password_env":  func(v *yaml.Node) { c.PasswordEnv = d.NonEmpty(v, where, "password_env"); secretNode = v },
		"password_file": func(v *yaml.Node) { c.PasswordFile = d.NonEmpty(v, where, "password_file"); secretNode = v },
		"password_prompt": func(v *yaml.Node) {
			c.PasswordPrompt = d.Bool(v, where, "password_prompt")
			secretNode = v
		},
		"client_id": func(v *yaml.Node) { c.ClientID = d.NonEmpty(v, where, "client_id") },
		"tenant_id": func(v *yaml.Node) { c.TenantID = d.NonEmpty(v, where, "tenant_id") },
		"encrypt": func(v *yaml.Node) {
			encryptNode = v
			c.Encrypt = Encryption(d.Enum(v, where, "encrypt", string(EncryptDisable), string(EncryptTrue), string(EncryptStrict)))
		},
		"trust_server_certificate": func(v *yaml.Node) {
			c.TrustServerCertificate = d.Bool(v, where, "trust_server_certificate")
		},
		"certificate":             func(v *yaml.Node) { c.Certificate = d.NonEmpty(v, where, "certificate") },
		"hostname_in_certificate": func(v *yaml.Node) { c.HostNameInCertificate = d.NonEmpty(v, where, "hostname_in_certificate") },
		"connect_timeout":         func(v *yaml.Node) { c.ConnectTimeout = d.Duration(v, where, "connect_timeout") },
		"query_timeout":           func(v *yaml.Node) { c.QueryTimeout = d.Duration(v, where, "query_timeout") },
	})
	d.Require(n, where, present, "server", "database")
	if c.Auth == "" {
		return c
	}
	if c.Auth == AuthSQL || c.Auth == AuthEntraPassword {
		if c.User == "" {
			d.Errorf(n, where, "auth %s needs a user", c.Auth)
		}
	}
	if c.Auth == AuthEntraServicePrincipal && c.ClientID == "" && c.User == "" {
		d.Errorf(n, where, "auth %s needs client_id (the application id)", c.Auth)
	}
	sources := 0
	for _, set := range []bool{c.PasswordEnv != "", c.PasswordFile != "", c.PasswordPrompt} {
		if set {
			sources++
		}
	}
	if c.NeedsSecret() {
		switch {
		case sources > 1:
			d.Errorf(secretNode, where, "give one of password_env, password_file or password_prompt")
		case sources == 0:
			if _, inline := present["password"]; !inline {
				d.Errorf(n, where, "auth %s needs a secret: set password_env (an environment variable), password_file, or password_prompt: true", c.Auth)
			}
		default:
			p.checkSecret(where, secretNode, c.PasswordEnv, c.PasswordFile)
		}
	} else if sources > 0 {
		d.Errorf(secretNode, where, "auth %s without a user does not use a password; remove the password setting (or give user DOMAIN\\name for NTLM)", c.Auth)
	}
	if c.Encrypt == EncryptDisable && !isLoopback(c.Server) {
		d.Errorf(encryptNode, where, "encrypt: disable is only allowed for a server on this machine (127.0.0.1, ::1, localhost); %q must be reached with encrypt: true or strict", c.Server)
	}
	if c.TrustServerCertificate && c.Certificate != "" {
		d.Errorf(n, where, "trust_server_certificate and certificate contradict each other; pin the certificate and drop trust_server_certificate")
	}
	return c
}

func (p *parser) checkSecret(where string, n *yaml.Node, env, file string) {
	if p.opts.SkipSecretChecks {
		return
	}
	d := &p.d
	if env != "" {
		if v, ok := p.opts.LookupEnv(env); !ok || v == "" {
			d.Errorf(n, where, "password_env: environment variable %s is not set (export it in the shell that runs cutover)", env)
		}
	}
	if file != "" {
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.rb.Dir, path)
		}
		if _, err := os.Stat(path); err != nil {
			d.Errorf(n, where, "password_file: %s cannot be read: %v", path, errors.Unwrap(err))
		}
	}
}

// isLoopback reports whether a server name refers to this machine.
func isLoopback(server string) bool {
	host := server
	if i := strings.IndexByte(host, '\\'); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || host == "." || strings.EqualFold(host, "(local)") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *parser) checkEnv(where, key string, n *yaml.Node, env string) {
	if p.opts.SkipSecretChecks {
		return
	}
	if v, ok := p.opts.LookupEnv(env); !ok || v == "" {
		p.d.Errorf(n, where, "%s: environment variable %s is not set (export it in the shell that runs cutover)", key, env)
	}
}

func (p *parser) aos(n *yaml.Node) *AOS {
	d := &p.d
	const where = "aos"
	a := &AOS{Pos: posOf(n), Control: "command"}
	var stopNode, queryNode, startNode, patNode *yaml.Node
	present := d.Fields(n, where, map[string]Field{
		"control":         func(v *yaml.Node) { a.Control = d.Enum(v, where, "control", "command", "scm") },
		"stop":            func(v *yaml.Node) { a.Stop = d.Strings(v, where, "stop"); stopNode = v },
		"query":           func(v *yaml.Node) { a.Query = d.Strings(v, where, "query"); queryNode = v },
		"start":           func(v *yaml.Node) { a.Start = d.Strings(v, where, "start"); startNode = v },
		"stopped_pattern": func(v *yaml.Node) { a.StoppedPattern = d.NonEmpty(v, where, "stopped_pattern"); patNode = v },
		"stop_timeout":    func(v *yaml.Node) { a.StopTimeout = d.Duration(v, where, "stop_timeout") },
		"instances": func(v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				d.Errorf(v, where, "instances: expected a list of {host, service}, found %s", describe(v))
				return
			}
			seen := map[string]bool{}
			for _, in := range v.Content {
				in = resolve(in)
				inst := AOSInstance{Pos: posOf(in)}
				ip := d.Fields(in, "aos instance", map[string]Field{
					"host":    func(v *yaml.Node) { inst.Host = d.NonEmpty(v, "aos instance", "host") },
					"service": func(v *yaml.Node) { inst.Service = d.NonEmpty(v, "aos instance", "service") },
				})
				d.Require(in, "aos instance", ip, "host", "service")
				key := strings.ToLower(inst.Host + "/" + inst.Service)
				if seen[key] {
					d.Errorf(in, "aos instance", "%s %s is listed twice", inst.Host, inst.Service)
				}
				seen[key] = true
				a.Instances = append(a.Instances, inst)
			}
		},
	})
	d.Require(n, where, present, "instances")
	if a.Control == "command" {
		if len(a.Stop) == 0 {
			d.Errorf(n, where, "control command needs stop (an argv template such as [sc.exe, '\\\\{host}', stop, '{service}'])")
		}
		if len(a.Query) == 0 {
			d.Errorf(n, where, "control command needs query (an argv template such as [sc.exe, '\\\\{host}', query, '{service}'])")
		}
		if a.StoppedPattern == "" {
			d.Errorf(n, where, "control command needs stopped_pattern (for sc.exe: 'STATE\\s+:\\s+1\\s+STOPPED')")
		}
	}
	for _, t := range []struct {
		argv []string
		node *yaml.Node
		key  string
	}{{a.Stop, stopNode, "stop"}, {a.Query, queryNode, "query"}, {a.Start, startNode, "start"}} {
		for _, arg := range t.argv {
			if err := CheckTemplate(arg, "host", "service"); err != nil {
				d.Errorf(t.node, where, "%s: %v", t.key, err)
			}
		}
	}
	if a.StoppedPattern != "" {
		if _, err := regexp.Compile(a.StoppedPattern); err != nil {
			d.Errorf(patNode, where, "stopped_pattern: not a valid regular expression: %v", err)
		}
	}
	return a
}

func (p *parser) downtime(n *yaml.Node) *Downtime {
	d := &p.d
	const where = "downtime"
	dt := &Downtime{Pos: posOf(n)}
	present := d.Fields(n, where, map[string]Field{
		"start":              func(v *yaml.Node) { dt.Start = d.Time(v, where, "start") },
		"budget":             func(v *yaml.Node) { dt.Budget = d.Duration(v, where, "budget") },
		"begins_with":        func(v *yaml.Node) { dt.BeginsWith = d.NonEmpty(v, where, "begins_with") },
		"point_of_no_return": func(v *yaml.Node) { dt.PointOfNoReturn = d.NonEmpty(v, where, "point_of_no_return") },
		"rollback_point":     func(v *yaml.Node) { dt.RollbackPoint = d.NonEmpty(v, where, "rollback_point") },
	})
	dt.keyPos = map[string]Pos{}
	for key, v := range present {
		dt.keyPos[key] = posOf(v)
	}
	d.Require(n, where, present, "budget")
	return dt
}

func (p *parser) baseline(n *yaml.Node) string {
	path := p.d.NonEmpty(n, "", "baseline")
	if path == "" {
		return ""
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(p.rb.Dir, full)
	}
	if _, err := os.Stat(full); err != nil {
		p.d.Errorf(n, "", "baseline: the rehearsal journal %s cannot be read: %v", full, errors.Unwrap(err))
	}
	return full
}
