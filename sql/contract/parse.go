// Parsing catalog.yaml into the contract: each entry checked and built.

package contract

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

type rawColumn struct {
	Name      string            `yaml:"name"`
	Type      string            `yaml:"type"`
	Nullable  bool              `yaml:"nullable"`
	Unit      string            `yaml:"unit"`
	Values    map[string]string `yaml:"values"`
	Note      string            `yaml:"note"`
	Platforms []Platform        `yaml:"platforms"`
	Required  bool              `yaml:"required"`
	Output    bool              `yaml:"output"`
}

type rawObject struct {
	Name              string            `yaml:"name"`
	Kind              Kind              `yaml:"kind"`
	Database          yaml.Node         `yaml:"database"`
	Platforms         []Platform        `yaml:"platforms"`
	Source            string            `yaml:"source"`
	Also              []string          `yaml:"also"`
	Documented        *bool             `yaml:"documented"`
	ColumnsDocumented *bool             `yaml:"columns_documented"`
	Permissions       string            `yaml:"permissions"`
	Note              string            `yaml:"note"`
	Returns           string            `yaml:"returns"`
	Inherits          string            `yaml:"inherits"`
	Columns           []rawColumn       `yaml:"columns"`
	Params            []rawColumn       `yaml:"params"`
	Result            []rawColumn       `yaml:"result"`
	Properties        map[string]string `yaml:"properties"`
	Values            yaml.Node         `yaml:"values"`
}

type rawFile struct {
	Objects []rawObject `yaml:"objects"`
	Errors  []struct {
		Number    int32      `yaml:"number"`
		Severity  uint8      `yaml:"severity"`
		Message   string     `yaml:"message"`
		Platforms []Platform `yaml:"platforms"`
		Source    string     `yaml:"source"`
	} `yaml:"errors"`
}

// Parse reads and checks a catalog: known fields only, unique names, a source for every
// documented entry, known kinds, databases and platforms, and types that parse.
func Parse(data []byte) (*Contract, error) {
	var raw rawFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	c := &Contract{errors: map[int32]ErrorDoc{}}
	seen := map[string]bool{}
	var errs []error
	for i := range raw.Objects {
		o, err := raw.Objects[i].build()
		if err != nil {
			errs = append(errs, fmt.Errorf("contract: object %q: %w", raw.Objects[i].Name, err))
			continue
		}
		key := strings.ToLower(o.Name)
		if seen[key] {
			errs = append(errs, fmt.Errorf("contract: object %q listed twice", o.Name))
		}
		seen[key] = true
		c.objects = append(c.objects, o)
	}
	// Inherited columns (sys.tables has sys.objects's).
	for i := range raw.Objects {
		from := raw.Objects[i].Inherits
		if from == "" {
			continue
		}
		base, ok := c.Lookup(from)
		if !ok {
			errs = append(errs, fmt.Errorf("contract: object %q inherits unknown %q", raw.Objects[i].Name, from))
			continue
		}
		for _, o := range c.objects {
			if strings.EqualFold(o.Name, raw.Objects[i].Name) {
				o.Columns = append(slices.Clone(base.Columns), o.Columns...)
			}
		}
	}
	for _, e := range raw.Errors {
		src, err := parseSource(e.Source)
		if err != nil {
			errs = append(errs, fmt.Errorf("contract: error %d: %w", e.Number, err))
			continue
		}
		if e.Number <= 0 || e.Severity == 0 || e.Message == "" {
			errs = append(errs, fmt.Errorf("contract: error %d needs a number, a severity and a message", e.Number))
		}
		c.errors[e.Number] = ErrorDoc{Number: e.Number, Severity: e.Severity, Message: e.Message, Platforms: e.Platforms, Source: src}
	}
	if len(c.objects) == 0 {
		errs = append(errs, errors.New("contract: no objects"))
	}
	return c, errors.Join(errs...)
}

func (r *rawObject) build() (*Object, error) {
	o := &Object{Name: r.Name, Kind: r.Kind, Platforms: r.Platforms, Permissions: r.Permissions, Note: r.Note,
		Returns: r.Returns, Documented: true, ColumnsDocumented: true}
	if r.Documented != nil {
		o.Documented = *r.Documented
	}
	if r.ColumnsDocumented != nil {
		o.ColumnsDocumented = *r.ColumnsDocumented
	}
	if o.Name == "" || strings.Count(o.Name, ".") > 2 {
		return nil, errors.New("needs a name of one to three parts")
	}
	switch o.Kind {
	case Table, View, Procedure, Function, Variable:
	default:
		return nil, fmt.Errorf("unknown kind %q", o.Kind)
	}
	if len(o.Platforms) == 0 {
		return nil, errors.New("needs platforms")
	}
	for _, p := range o.Platforms {
		if p != SQLServer && p != AzureSQL {
			return nil, fmt.Errorf("unknown platform %q", p)
		}
	}
	switch r.Database.Kind {
	case yaml.ScalarNode:
		o.Databases = []Database{Database(r.Database.Value)}
	case yaml.SequenceNode:
		for _, n := range r.Database.Content {
			o.Databases = append(o.Databases, Database(n.Value))
		}
	default:
		return nil, errors.New("needs a database")
	}
	for _, d := range o.Databases {
		switch d {
		case AnyDatabase, Master, SourceDB, DistributionDB, SandboxDB, Msdb:
		default:
			return nil, fmt.Errorf("unknown database %q", d)
		}
	}
	if o.Documented {
		src, err := parseSource(r.Source)
		if err != nil {
			return nil, err
		}
		o.Source = src
	} else if r.Note == "" {
		return nil, errors.New("an undocumented object needs a note saying what is missing")
	}
	for _, a := range r.Also {
		src, err := parseSource(a)
		if err != nil {
			return nil, err
		}
		o.Also = append(o.Also, src)
	}
	if !o.ColumnsDocumented && (len(r.Columns) > 0 || r.Note == "") {
		return nil, errors.New("columns_documented: false takes a note and no columns")
	}
	cols := func(raw []rawColumn, what string) ([]Column, error) {
		var out []Column
		names := map[string]bool{}
		for _, rc := range raw {
			if rc.Name == "" {
				return nil, fmt.Errorf("a %s without a name", what)
			}
			if names[strings.ToLower(rc.Name)] {
				return nil, fmt.Errorf("%s %q listed twice", what, rc.Name)
			}
			names[strings.ToLower(rc.Name)] = true
			t, err := ParseType(rc.Type)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", what, rc.Name, err)
			}
			out = append(out, Column{Name: rc.Name, Type: t, Nullable: rc.Nullable, Unit: rc.Unit, Values: rc.Values,
				Note: rc.Note, Platforms: rc.Platforms})
		}
		return out, nil
	}
	var err error
	if o.Columns, err = cols(r.Columns, "column"); err != nil {
		return nil, err
	}
	if o.Result, err = cols(r.Result, "result column"); err != nil {
		return nil, err
	}
	for _, rp := range r.Params {
		if !strings.HasPrefix(rp.Name, "@") {
			return nil, fmt.Errorf("parameter %q: a parameter name starts with @", rp.Name)
		}
		t, err := ParseType(rp.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", rp.Name, err)
		}
		o.Params = append(o.Params, Param{Name: rp.Name, Type: t, Required: rp.Required, Output: rp.Output, Values: rp.Values, Note: rp.Note})
	}
	if len(r.Properties) > 0 {
		o.Properties = map[string]Type{}
		for name, ts := range r.Properties {
			t, err := ParseType(ts)
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", name, err)
			}
			o.Properties[name] = t
		}
	}
	if r.Values.Kind == yaml.MappingNode {
		o.Values = map[string]map[string]string{}
		// Either {value: meaning} for the function's result, or {property: {value: meaning}}.
		flat := map[string]string{}
		for i := 0; i+1 < len(r.Values.Content); i += 2 {
			k, v := r.Values.Content[i], r.Values.Content[i+1]
			if v.Kind == yaml.MappingNode {
				m := map[string]string{}
				if err := v.Decode(&m); err != nil {
					return nil, fmt.Errorf("values of %q: %w", k.Value, err)
				}
				o.Values[k.Value] = m
			} else {
				flat[k.Value] = v.Value
			}
		}
		if len(flat) > 0 {
			o.Values[""] = flat
		}
	}
	if o.Kind == Function || o.Kind == Variable {
		if o.Returns == "" {
			return nil, errors.New("a function needs returns")
		}
		if t, err := ParseType(o.Returns); err == nil {
			o.ReturnType = t
		}
	}
	return o, nil
}
