package cmd

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestImportGraph checks the house's layers from the source: no arrow runs up and none runs in a
// circle. cmd → adapter, demo, tui → engine ← (ports) ← adapter → sql, lcs: the engine imports
// none of its front ends, adapters, simulators or Charm; sql/ and lcs/ import no engine; tui/
// reaches sql/ and lcs/ only through the engine; no v1 Charm module anywhere.
func TestImportGraph(t *testing.T) {
	const mod = "cutover"
	up := map[string][]string{ // top folder → what it may not import
		"engine":  {"cutover/tui", "cutover/cmd", "cutover/adapter", "cutover/demo", "cutover/sql", "cutover/lcs", "charm.land/"},
		"sql":     {"cutover/engine", "cutover/tui", "cutover/cmd", "cutover/adapter", "cutover/demo", "cutover/lcs", "charm.land/"},
		"lcs":     {"cutover/engine", "cutover/tui", "cutover/cmd", "cutover/adapter", "cutover/demo", "cutover/sql", "charm.land/"},
		"tui":     {"cutover/cmd", "cutover/adapter", "cutover/demo", "cutover/sql", "cutover/lcs"},
		"adapter": {"cutover/cmd", "cutover/demo", "cutover/tui", "charm.land/"},
		"demo":    {"cutover/cmd", "cutover/tui", "charm.land/"},
	}
	v1 := charmV1Homes(t)
	top := func(dir string) string { return strings.SplitN(dir, "/", 2)[0] }
	edges := map[string]map[string]bool{} // top folder → top folders it imports
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := path.Dir(rel)
		for _, is := range f.Imports {
			imp, _ := strconv.Unquote(is.Path.Value)
			for _, bad := range append(up[top(dir)], v1...) {
				if imp == bad || strings.HasPrefix(imp, strings.TrimSuffix(bad, "/")+"/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(imp, bad)) {
					t.Errorf("%s imports %s: an arrow up", rel, imp)
				}
			}
			if dir == "." && imp != mod+"/cmd" && strings.HasPrefix(imp, mod) {
				t.Errorf("main.go imports %s: the entry point runs cmd only", imp)
			}
			if rest, ok := strings.CutPrefix(imp, mod+"/"); ok && dir != "." {
				if from, to := top(dir), top(rest); from != to {
					if edges[from] == nil {
						edges[from] = map[string]bool{}
					}
					edges[from][to] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// No circle between the top folders (Go refuses one between packages; this is the house's).
	var visit func(n string, stack []string)
	done := map[string]bool{}
	visit = func(n string, stack []string) {
		if i := slices.Index(stack, n); i >= 0 {
			t.Errorf("import circle: %s", strings.Join(append(stack[i:], n), " → "))
			return
		}
		if done[n] {
			return
		}
		for to := range edges[n] {
			visit(to, append(stack, n))
		}
		done[n] = true
	}
	for n := range edges {
		visit(n, nil)
	}
	if !edges["cmd"]["engine"] || !edges["adapter"]["sql"] || !edges["adapter"]["lcs"] {
		t.Fatalf("the walk found too little (edges %v): is the test run from cmd/?", edges)
	}
}

// charmV1Homes are the old homes, on github.com, of the Charm modules go.mod takes from
// charm.land: an import from there is a v1 library, which compiles beside v2 and breaks at run
// time.
func charmV1Homes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var homes []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) == 0 || !strings.HasPrefix(f[0], "charm.land/") {
			continue
		}
		name := strings.Split(strings.TrimPrefix(f[0], "charm.land/"), "/")[0]
		homes = append(homes, path.Join("github.com", "charmbracelet", name))
	}
	if len(homes) < 4 {
		t.Fatalf("go.mod names %d charm.land modules: %v", len(homes), homes)
	}
	return homes
}
