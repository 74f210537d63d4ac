package tdssim

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"cutover/sql/tsql"
)

// NormalizeSQL canonicalises SQL text for matching: comments (-- and
// nested /* */) are removed, whitespace runs become one space, everything
// outside string literals is lower-cased, "WITH (NOLOCK)" hints are
// dropped, and leading/trailing spaces and semicolons are trimmed. String
// literals ('...'), quoted identifiers ("..." and [...]) keep their
// content and case (identifiers are lower-cased too).
func NormalizeSQL(sql string) string {
	var b strings.Builder
	b.Grow(len(sql))
	space := false // a space is pending
	emit := func(r rune) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	rs := []rune(sql)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '-' && i+1 < len(rs) && rs[i+1] == '-':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(rs) && rs[i+1] == '*':
			depth := 0
			for ; i < len(rs); i++ {
				if rs[i] == '/' && i+1 < len(rs) && rs[i+1] == '*' {
					depth++
					i++
				} else if rs[i] == '*' && i+1 < len(rs) && rs[i+1] == '/' {
					depth--
					i++
					if depth == 0 {
						break
					}
				}
			}
			space = true
		case unicode.IsSpace(c):
			space = true
		case c == '\'':
			emit(c)
			for i++; i < len(rs); i++ {
				b.WriteRune(rs[i])
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						i++
						b.WriteRune('\'')
						continue
					}
					break
				}
			}
		case c == '"' || c == '[':
			closer := '"'
			if c == '[' {
				closer = ']'
			}
			emit(c)
			for i++; i < len(rs); i++ {
				b.WriteRune(unicode.ToLower(rs[i]))
				if rs[i] == closer {
					if i+1 < len(rs) && rs[i+1] == closer {
						i++
						b.WriteRune(closer)
						continue
					}
					break
				}
			}
		default:
			emit(unicode.ToLower(c))
		}
	}
	s := stripNoLock(b.String())
	// Trailing semicolons and any white space (an unterminated quoted name keeps its tabs) go
	// together, so normalizing twice changes nothing.
	return strings.TrimRightFunc(strings.TrimLeftFunc(s, unicode.IsSpace), func(r rune) bool { return r == ';' || unicode.IsSpace(r) })
}

// stripNoLock removes "with (nolock)" hints (already lower-cased and
// single-spaced) that are outside string literals.
func stripNoLock(s string) string {
	for from := 0; ; {
		i := strings.Index(s[from:], "with")
		if i < 0 {
			return s
		}
		i += from
		j := i + len("with")
		if i > 0 && isIdentChar(s[i-1]) {
			from = j
			continue
		}
		k := j
		skip := func() {
			if k < len(s) && s[k] == ' ' {
				k++
			}
		}
		skip()
		ok := strings.HasPrefix(s[k:], "(")
		if ok {
			k++
			skip()
			ok = strings.HasPrefix(s[k:], "nolock")
		}
		if ok {
			k += len("nolock")
			skip()
			ok = strings.HasPrefix(s[k:], ")")
		}
		if !ok || strings.Count(s[:i], "'")%2 != 0 {
			from = j
			continue
		}
		k++
		s = joinAfterHint(s[:i], s[k:])
		from = 0 // a removal can complete an enclosing hint: rescan
	}
}

// joinAfterHint joins the text either side of a removed hint so that the
// join neither merges two tokens nor starts a new quote or comment (the
// fuzzer's find: "[]with(nolock)]" must not become the quoted name "[]]").
// One space stays between the two sides, none before a closing "," ";" or
// ")" that follows a space, and none at either end.
func joinAfterHint(left, right string) string {
	switch {
	case left == "" || right == "":
		return left + right
	case strings.HasSuffix(left, " ") && (right[0] == ' ' || strings.ContainsRune(",;)", rune(right[0]))):
		return left[:len(left)-1] + right
	case !strings.HasSuffix(left, " ") && right[0] != ' ':
		return left + " " + right
	}
	return left + right
}

func isIdentChar(c byte) bool {
	return c == '_' || c == '@' || c == '#' || c == '$' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// normalizeProc canonicalises a procedure name: brackets removed,
// lower-cased.
func normalizeProc(name string) string {
	return strings.ToLower(strings.NewReplacer("[", "", "]", "").Replace(strings.TrimSpace(name)))
}

type route struct {
	prefix string
	re     *regexp.Regexp
	h      HandlerFunc
}

// Router is a Handler that dispatches on normalised SQL text (exact text,
// prefix or regular expression, see NormalizeSQL) and on procedure names.
// A request no route matches is answered as a server without those objects
// would: error 208 naming the first table the SQL names, 2812 for a
// procedure; SQL that names neither (or that package tsql cannot read) gets
// NoAnswerError. Gaps in a simulation fail loudly. Routes may be added while
// serving.
type Router struct {
	mu       sync.RWMutex
	exact    map[string]HandlerFunc
	patterns []route
	procs    map[string]HandlerFunc
	fallback HandlerFunc
}

// NewRouter returns an empty Router.
func NewRouter() *Router {
	return &Router{exact: map[string]HandlerFunc{}, procs: map[string]HandlerFunc{}}
}

// Exact routes SQL whose normalised text equals NormalizeSQL(sql).
func (rt *Router) Exact(sql string, h HandlerFunc) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.exact[NormalizeSQL(sql)] = h
}

// Prefix routes SQL whose normalised text starts with NormalizeSQL(prefix).
// Prefix and Regexp routes are tried in registration order after exact
// matches.
func (rt *Router) Prefix(prefix string, h HandlerFunc) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.patterns = append(rt.patterns, route{prefix: NormalizeSQL(prefix), h: h})
}

// Regexp routes SQL whose normalised text matches re.
func (rt *Router) Regexp(re *regexp.Regexp, h HandlerFunc) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.patterns = append(rt.patterns, route{re: re, h: h})
}

// Proc routes RPCs calling the named procedure. Names are compared without
// brackets and case-insensitively; a call to "db.dbo.name" also matches a
// route registered as "name" when no route has the full name.
func (rt *Router) Proc(name string, h HandlerFunc) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.procs[normalizeProc(name)] = h
}

// Fallback sets the handler for requests no route matches (instead of the
// 208 / 2812 / NoAnswerError answers).
func (rt *Router) Fallback(h HandlerFunc) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.fallback = h
}

// ServeTDS implements Handler.
func (rt *Router) ServeTDS(req *Request) (*Result, error) {
	h, routed, err := rt.lookup(req)
	if err == nil {
		var res *Result
		if res, err = h(req); err == nil || routed {
			return res, err
		}
	}
	// No route matched: whatever the refusal, it is a statement this server has no answer for.
	var e *Error
	if errors.As(err, &e) {
		marked := *e
		marked.Unsupported = true
		return nil, &marked
	}
	return nil, err
}

// route is the handler of a route matching req (not the fallback), if any.
func (rt *Router) route(req *Request) (HandlerFunc, bool) {
	h, routed, err := rt.lookup(req)
	return h, err == nil && routed
}

// lookup finds the handler for req; routed is false when no route matched (the fallback, or an
// error naming what SQL Server would have refused).
func (rt *Router) lookup(req *Request) (h HandlerFunc, routed bool, err error) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	if req.Proc != "" {
		name := normalizeProc(req.Proc)
		if h, ok := rt.procs[name]; ok {
			return h, true, nil
		}
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			if h, ok := rt.procs[name[i+1:]]; ok {
				return h, true, nil
			}
		}
		if rt.fallback != nil {
			return rt.fallback, false, nil
		}
		return nil, false, ProcNotFoundError(req.Proc)
	}
	n := NormalizeSQL(req.SQL)
	if h, ok := rt.exact[n]; ok {
		return h, true, nil
	}
	for _, r := range rt.patterns {
		if (r.re != nil && r.re.MatchString(n)) || (r.re == nil && strings.HasPrefix(n, r.prefix)) {
			return r.h, true, nil
		}
	}
	if rt.fallback != nil {
		return rt.fallback, false, nil
	}
	return nil, false, unrouted(req.SQL, n)
}

// unrouted is the answer to SQL no route matches: the error a server that has none of the
// objects it names gives first (208 for a table, 2812 for a procedure, a write's refusal), else
// NoAnswerError.
func unrouted(sql, normalized string) error {
	script, err := tsql.Parse(sql)
	if err != nil {
		return NoAnswerError(normalized)
	}
	if len(script.Statements) > 0 {
		if m, ok := script.Statements[0].(*tsql.ModifyStatement); ok {
			if e := RefuseWrite(m, "", false); e != nil {
				return e
			}
			return NoAnswerError(normalized)
		}
	}
	objects := tsql.Resolve(script, nil).Objects
	if len(objects) == 0 {
		return NoAnswerError(normalized)
	}
	first := objects[0]
	if first.Kind == tsql.ProcedureObject {
		return ProcNotFoundError(first.Name.String())
	}
	return InvalidObjectError(first.Name.String())
}

// RefuseWrite is SQL Server's answer to a statement that writes on a server whose logins may only
// read (the simulated world is read-only), database being the session's database and exists
// whether the object written to exists there. A login without the permission is refused with
// (sql-docs docs/relational-databases/errors-events/database-engine-events-and-errors-0-to-999.md,
// 1000-to-1999, 3000-to-3999, 4000-to-4999):
//
//   - INSERT, UPDATE, DELETE, MERGE: 229 "The %ls permission was denied on the object '%.*ls',
//     database '%.*ls', schema '%.*ls'." (208 when the object does not exist, which name
//     resolution finds first);
//   - CREATE: 262 "%ls permission denied in database '%.*ls'." (CREATE TABLE …);
//   - DROP: 3701 "Cannot drop the %S_MSG '%.*ls', because it does not exist or you do not have
//     permission.";
//   - TRUNCATE TABLE: 1088, ALTER TABLE: 4902, both "Cannot find the object "%.*ls" because it
//     does not exist or you do not have permissions.".
//
// The pages give the numbers and texts, not which a statement raises: these are the ones SQL
// Server is known to send for each. GRANT, REVOKE, DENY and the rest are nil: the simulator has no
// answer for them.
func RefuseWrite(st *tsql.ModifyStatement, database string, exists bool) *Error {
	name := ""
	if st.Object != nil {
		name = st.Object.String()
	}
	switch st.Verb {
	case "INSERT", "UPDATE", "DELETE", "MERGE":
		if !exists {
			return InvalidObjectError(name)
		}
		schema := st.Object.Schema()
		if schema == "" {
			schema = "dbo"
		}
		return PermissionDeniedError(st.Verb, st.Object.Object(), database, schema)
	case "CREATE":
		if database == "" {
			return nil
		}
		return &Error{Number: 262, State: 1, Class: 16, Message: fmt.Sprintf("CREATE %s permission denied in database '%s'.", st.What, database)}
	case "DROP":
		return &Error{Number: 3701, State: 5, Class: 11, Message: fmt.Sprintf("Cannot drop the %s '%s', because it does not exist or you do not have permission.",
			strings.ToLower(st.What), name)}
	case "TRUNCATE":
		return &Error{Number: 1088, State: 7, Class: 15, Message: fmt.Sprintf("Cannot find the object \"%s\" because it does not exist or you do not have permissions.", name)}
	case "ALTER":
		if st.What != "TABLE" {
			return nil
		}
		return &Error{Number: 4902, State: 1, Class: 16, Message: fmt.Sprintf("Cannot find the object \"%s\" because it does not exist or you do not have permissions.", name)}
	}
	return nil
}
