// Package contract holds what Microsoft documents about the Lifecycle Services API and its Entra
// ID sign-in, as data: every documented example response and request verbatim (examples/), and a
// manifest (contract.yaml) naming for each endpoint its method, URL template, query parameters,
// documented fields with their types and value formats, enum values and error codes, each with
// the document it comes from.
//
// The LCS client (lcs/) and the simulator (lcs/sim/) are both tested against it, so a
// misconception cannot hide by being mirrored on both sides. The package only reads the embedded
// files; it imports nothing of cutover.
package contract

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed contract.yaml examples
var files embed.FS

// Document is one of Microsoft's documents the contract relies on.
type Document struct {
	Repo string `yaml:"repo"`
	Path string `yaml:"path"`
	// Commit pins the version read; Version names it where the commit is not known (its ms.date,
	// or a section).
	Commit  string `yaml:"commit"`
	Version string `yaml:"version"`
	Title   string `yaml:"title"`
}

// String names the document as repo:path.
func (d Document) String() string { return d.Repo + ":" + d.Path }

// Format is a documented value format.
type Format struct {
	Description string   `yaml:"description"`
	Pattern     string   `yaml:"pattern"`
	Layout      string   `yaml:"layout"`
	Examples    []string `yaml:"examples"`
	Source      string   `yaml:"source"`

	re *regexp.Regexp
}

// Match reports whether s is written in the format.
func (f Format) Match(s string) bool { return f.re != nil && f.re.MatchString(s) }

// Field is a documented property of an answer.
type Field struct {
	Name string `yaml:"name"`
	// Type is the JSON type: string, number, integer, boolean or array.
	Type   string `yaml:"type"`
	Format string `yaml:"format"`
	// Shown lists the spellings of a GUID the documents show for this field: dashed, undashed.
	Shown    []string `yaml:"shown"`
	Nullable bool     `yaml:"nullable"`
	Optional bool     `yaml:"optional"`
	Enum     string   `yaml:"enum"`
	Default  string   `yaml:"default"`
	// Spellings are other documented spellings of the name (the documents disagree).
	Spellings []string `yaml:"spellings"`
}

// Names is the field's name and its other documented spellings.
func (f Field) Names() []string { return append([]string{f.Name}, f.Spellings...) }

// Param is a query parameter or a header.
type Param struct {
	Name     string `yaml:"name"`
	Value    string `yaml:"value"`
	Required bool   `yaml:"required"`
	Note     string `yaml:"note"`
}

// ErrorCode is a documented error answer.
type ErrorCode struct {
	HTTP      int    `yaml:"http"`
	IsSuccess *bool  `yaml:"is_success"`
	Header    string `yaml:"header"`
	Message   string `yaml:"message"`
	Meaning   string `yaml:"meaning"`
	Source    string `yaml:"source"`
}

// Endpoint is one documented (or, with Documented false, undocumented but used) API call.
type Endpoint struct {
	Name string `yaml:"name"`
	// Documented is false for a call the documents do not describe; its entry says where it is
	// known from.
	Documented      *bool   `yaml:"documented"`
	Source          string  `yaml:"source"`
	Method          string  `yaml:"method"`
	Path            string  `yaml:"path"`
	Query           []Param `yaml:"query"`
	Headers         []Param `yaml:"headers"`
	Body            string  `yaml:"body"`
	StartsOperation bool    `yaml:"starts_operation"`
	Paged           bool    `yaml:"paged"`
	// Items names the array holding the rows ("Data", "DatabaseAssets"); "" when the fields are
	// the answer's own.
	Items      string      `yaml:"items"`
	Fields     []Field     `yaml:"fields"`
	RateLimits []string    `yaml:"rate_limits"`
	Errors     []ErrorCode `yaml:"errors"`
	Notes      []string    `yaml:"notes"`
}

// IsDocumented reports whether the documents describe the endpoint.
func (e Endpoint) IsDocumented() bool { return e.Documented == nil || *e.Documented }

// Field returns the field named name (any documented spelling, ignoring case).
func (e Endpoint) Field(name string) (Field, bool) {
	for _, f := range e.Fields {
		for _, n := range f.Names() {
			if strings.EqualFold(n, name) {
				return f, true
			}
		}
	}
	return Field{}, false
}

// Enum is a documented set of values. Closed means the document lists every value; an open enum
// only has examples, and any other value is possible.
type Enum struct {
	Closed bool     `yaml:"closed"`
	Source string   `yaml:"source"`
	Values []string `yaml:"values"`
	Note   string   `yaml:"note"`
	Also   []struct {
		Source string   `yaml:"source"`
		Values []string `yaml:"values"`
		Note   string   `yaml:"note"`
	} `yaml:"also"`
	// Elsewhere are values known from outside Microsoft's documents (its note says where): the
	// code must take them, and the simulator may use them where the documents have none.
	Elsewhere struct {
		Note   string   `yaml:"note"`
		Values []string `yaml:"values"`
	} `yaml:"elsewhere"`
}

// All lists every documented value, in order, without repeats (not Elsewhere's).
func (e Enum) All() []string {
	out := slices.Clone(e.Values)
	for _, a := range e.Also {
		for _, v := range a.Values {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// Envelope is the frame every answer carries.
type Envelope struct {
	Source string   `yaml:"source"`
	Fields []Field  `yaml:"fields"`
	Notes  []string `yaml:"notes"`
}

// Throttling is the documented limit of the database movement API.
type Throttling struct {
	Source    string        `yaml:"source"`
	Limit     int           `yaml:"limit"`
	Window    time.Duration `yaml:"window"`
	Per       string        `yaml:"per"`
	CountedBy string        `yaml:"counted_by"`
	Facts     []string      `yaml:"facts"`
}

// Cloud is a sovereign or government LCS with the identity it signs in against.
type Cloud struct {
	LCS           string   `yaml:"lcs"`
	Name          string   `yaml:"name"`
	Identity      string   `yaml:"identity"`
	AuthorityHost string   `yaml:"authority_host"`
	Sources       []string `yaml:"sources"`
}

// Entra is what the documents say about signing in for the API.
type Entra struct {
	Permission struct {
		API    string   `yaml:"api"`
		AppID  string   `yaml:"app_id"`
		Scope  string   `yaml:"scope"`
		Type   string   `yaml:"type"`
		Source string   `yaml:"source"`
		Facts  []string `yaml:"facts"`
	} `yaml:"permission"`
	AppRegistration struct {
		DefaultAccountTypes string   `yaml:"default_account_types"`
		MapsTo              string   `yaml:"maps_to"`
		Source              string   `yaml:"source"`
		Also                []string `yaml:"also"`
	} `yaml:"app_registration"`
	TokenRequest struct {
		Endpoint string   `yaml:"endpoint"`
		Scope    string   `yaml:"scope"`
		Source   string   `yaml:"source"`
		Facts    []string `yaml:"facts"`
	} `yaml:"token_request"`
	Authority struct {
		Rule    string `yaml:"rule"`
		Error   string `yaml:"error"`
		Message string `yaml:"message"`
		Source  string `yaml:"source"`
	} `yaml:"authority"`
	Clouds        []Cloud `yaml:"clouds"`
	TokenResponse struct {
		Source string  `yaml:"source"`
		Fields []Field `yaml:"fields"`
	} `yaml:"token_response"`
	ErrorResponse struct {
		Source string  `yaml:"source"`
		Fields []Field `yaml:"fields"`
	} `yaml:"error_response"`
}

// Example is one of the documents' examples, kept verbatim in its own file.
type Example struct {
	File string `yaml:"file"`
	// Kind is response, request (an HTTP request line) or schema.
	Kind     string `yaml:"kind"`
	Endpoint string `yaml:"endpoint"`
	Source   string `yaml:"source"`
	Section  string `yaml:"section"`
}

// Contract is the whole manifest.
type Contract struct {
	Documents map[string]Document `yaml:"documents"`
	Formats   map[string]*Format  `yaml:"formats"`
	Hosts     struct {
		Documented []string `yaml:"documented"`
		Source     string   `yaml:"source"`
		Note       string   `yaml:"note"`
	} `yaml:"hosts"`
	Envelope   Envelope        `yaml:"envelope"`
	Enums      map[string]Enum `yaml:"enums"`
	Endpoints  []Endpoint      `yaml:"endpoints"`
	Throttling Throttling      `yaml:"throttling"`
	Entra      Entra           `yaml:"entra"`
	Examples   []Example       `yaml:"examples"`
}

// Load reads the embedded manifest and checks that it holds together: every source names a
// document, every example file exists (and every file is listed), every pattern compiles, every
// JSON example is JSON and every field's format and enum exist.
func Load() (*Contract, error) {
	raw, err := files.ReadFile("contract.yaml")
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	var c Contract
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("contract.yaml: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("contract.yaml: %w", err)
	}
	return &c, nil
}

func (c *Contract) check() error {
	var errs []error
	src := func(where, key string) {
		if _, ok := c.Documents[key]; !ok {
			errs = append(errs, fmt.Errorf("%s: source %q names no document", where, key))
		}
	}
	for name, f := range c.Formats {
		src("format "+name, f.Source)
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("format %s: %w", name, err))
			continue
		}
		f.re = re
		for _, ex := range f.Examples {
			if !re.MatchString(ex) {
				errs = append(errs, fmt.Errorf("format %s: its own example %q does not match", name, ex))
			}
			if f.Layout != "" {
				if _, err := time.Parse(f.Layout, ex); err != nil {
					errs = append(errs, fmt.Errorf("format %s: layout does not read %q: %w", name, ex, err))
				}
			}
		}
	}
	fields := func(where string, fs []Field) {
		for _, f := range fs {
			if f.Format != "" && c.Formats[f.Format] == nil {
				errs = append(errs, fmt.Errorf("%s.%s: unknown format %q", where, f.Name, f.Format))
			}
			if _, ok := c.Enums[f.Enum]; f.Enum != "" && !ok {
				errs = append(errs, fmt.Errorf("%s.%s: unknown enum %q", where, f.Name, f.Enum))
			}
		}
	}
	src("hosts", c.Hosts.Source)
	src("envelope", c.Envelope.Source)
	fields("envelope", c.Envelope.Fields)
	for name, e := range c.Enums {
		src("enum "+name, e.Source)
		if len(e.Elsewhere.Values) > 0 && e.Elsewhere.Note == "" {
			errs = append(errs, fmt.Errorf("enum %s: values from outside the documents must say where they come from", name))
		}
		for _, a := range e.Also {
			src("enum "+name, a.Source)
		}
	}
	seen := map[string]bool{}
	for _, e := range c.Endpoints {
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("endpoint %s is listed twice", e.Name))
		}
		seen[e.Name] = true
		if e.IsDocumented() {
			src("endpoint "+e.Name, e.Source)
		} else if e.Source != "" || len(e.Notes) == 0 {
			errs = append(errs, fmt.Errorf("endpoint %s: an undocumented endpoint names no document and says where it is known from", e.Name))
		}
		fields("endpoint "+e.Name, e.Fields)
		for _, er := range e.Errors {
			if er.Source != "" {
				src("endpoint "+e.Name+" error", er.Source)
			}
		}
	}
	src("throttling", c.Throttling.Source)
	src("entra permission", c.Entra.Permission.Source)
	src("entra app registration", c.Entra.AppRegistration.Source)
	for _, a := range c.Entra.AppRegistration.Also {
		src("entra app registration", a)
	}
	src("entra token request", c.Entra.TokenRequest.Source)
	src("entra authority", c.Entra.Authority.Source)
	src("entra token response", c.Entra.TokenResponse.Source)
	src("entra error response", c.Entra.ErrorResponse.Source)
	for _, cl := range c.Entra.Clouds {
		for _, s := range cl.Sources {
			src("entra cloud "+cl.Name, s)
		}
	}
	listed := map[string]bool{}
	for _, ex := range c.Examples {
		src("example "+ex.File, ex.Source)
		listed[ex.File] = true
		b, err := files.ReadFile("examples/" + ex.File)
		if err != nil {
			errs = append(errs, fmt.Errorf("example %s: %w", ex.File, err))
			continue
		}
		if strings.HasSuffix(ex.File, ".json") && !json.Valid(b) {
			errs = append(errs, fmt.Errorf("example %s is not JSON", ex.File))
		}
		switch ex.Kind {
		case "response", "request", "schema":
		default:
			errs = append(errs, fmt.Errorf("example %s: kind %q is not response, request or schema", ex.File, ex.Kind))
		}
	}
	entries, err := fs.ReadDir(files, "examples")
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range entries {
		if !listed[d.Name()] {
			errs = append(errs, fmt.Errorf("examples/%s is not listed in the manifest", d.Name()))
		}
	}
	return errors.Join(errs...)
}

// Endpoint returns the endpoint named name.
func (c *Contract) Endpoint(name string) (Endpoint, bool) {
	for _, e := range c.Endpoints {
		if e.Name == name {
			return e, true
		}
	}
	return Endpoint{}, false
}

// ExamplesOf lists the examples of an endpoint of one kind.
func (c *Contract) ExamplesOf(endpoint, kind string) []Example {
	var out []Example
	for _, ex := range c.Examples {
		if ex.Endpoint == endpoint && ex.Kind == kind {
			out = append(out, ex)
		}
	}
	return out
}

// Source is the document an entry names.
func (c *Contract) Source(key string) Document { return c.Documents[key] }

// Bytes returns an example file's bytes, unchanged.
func Bytes(file string) ([]byte, error) {
	b, err := files.ReadFile("examples/" + file)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return b, nil
}
