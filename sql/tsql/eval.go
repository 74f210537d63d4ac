package tsql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Values are nil (NULL), int64, float64, string, bool or time.Time; a DatePart evaluates to its
// DatePartName for the function that takes it.

// DatePartName is the datepart keyword of DATEADD, DATEDIFF, DATEPART and DATENAME, in lower
// case (second, minute, hour, day, …).
type DatePartName string

// Env supplies what an expression reads when it is evaluated.
type Env interface {
	// Column is a column's value in the current row.
	Column(ref *ColumnRef) (any, error)
	// Call is a function's value for evaluated arguments.
	Call(f *FuncCall, args []any) (any, error)
	// Variable is a variable's value (@x, or @@X when v.System).
	Variable(v *VariableRef) (any, error)
}

// Truth is a predicate's three-valued result.
type Truth int

// Truth values.
const (
	Unknown Truth = iota
	False
	True
)

// String names the value.
func (t Truth) String() string { return [...]string{"UNKNOWN", "FALSE", "TRUE"}[t] }

// ErrUnsupported is returned for expressions the evaluator does not handle.
var ErrUnsupported = errors.New("tsql: not supported by the evaluator")

// ErrDivideByZero is a division or modulo by zero: SQL Server's error 8134.
var ErrDivideByZero error = &ValueError{Number: 8134, Message: "Divide by zero error encountered."}

// Test evaluates a predicate with SQL's three-valued logic (a comparison with NULL is UNKNOWN;
// WHERE keeps only TRUE). Strings compare case-insensitively and ignore trailing spaces, as
// under SQL Server's default collations.
func Test(e Expr, env Env) (Truth, error) {
	switch e := e.(type) {
	case *Paren:
		return Test(e.X, env)
	case *Unary:
		if e.Op != "NOT" {
			break
		}
		t, err := Test(e.X, env)
		switch t {
		case True:
			return False, err
		case False:
			return True, err
		}
		return Unknown, err
	case *Binary:
		switch e.Op {
		case "AND", "OR":
			l, err := Test(e.Left, env)
			if err != nil {
				return Unknown, err
			}
			r, err := Test(e.Right, env)
			if err != nil {
				return Unknown, err
			}
			if e.Op == "AND" {
				switch {
				case l == False || r == False:
					return False, nil
				case l == True && r == True:
					return True, nil
				}
				return Unknown, nil
			}
			switch {
			case l == True || r == True:
				return True, nil
			case l == False && r == False:
				return False, nil
			}
			return Unknown, nil
		}
		if _, ok := comparisons[e.Op]; ok {
			l, err := Eval(e.Left, env)
			if err != nil {
				return Unknown, err
			}
			r, err := Eval(e.Right, env)
			if err != nil {
				return Unknown, err
			}
			return compareOp(e.Op, l, r)
		}
	case *IsNull:
		v, err := Eval(e.X, env)
		if err != nil {
			return Unknown, err
		}
		if (v == nil) != e.Not {
			return True, nil
		}
		return False, nil
	case *In:
		if e.Query != nil {
			break
		}
		v, err := Eval(e.X, env)
		if err != nil {
			return Unknown, err
		}
		out := False
		for _, x := range e.List {
			w, err := Eval(x, env)
			if err != nil {
				return Unknown, err
			}
			switch t, err := compareOp("=", v, w); {
			case err != nil:
				return Unknown, err
			case t == True:
				out = True
			case t == Unknown && out == False:
				out = Unknown
			}
			if out == True {
				break
			}
		}
		return negate(out, e.Not), nil
	case *Between:
		v, err1 := Eval(e.X, env)
		lo, err2 := Eval(e.Lo, env)
		hi, err3 := Eval(e.Hi, env)
		if err := errors.Join(err1, err2, err3); err != nil {
			return Unknown, err
		}
		a, err1 := compareOp(">=", v, lo)
		b, err2 := compareOp("<=", v, hi)
		if err := errors.Join(err1, err2); err != nil {
			return Unknown, err
		}
		t := Unknown
		switch {
		case a == False || b == False:
			t = False
		case a == True && b == True:
			t = True
		}
		return negate(t, e.Not), nil
	case *Like:
		v, err1 := Eval(e.X, env)
		p, err2 := Eval(e.Pattern, env)
		if err := errors.Join(err1, err2); err != nil {
			return Unknown, err
		}
		if e.Escape != nil {
			break
		}
		if v == nil || p == nil {
			return Unknown, nil
		}
		// LIKE compares character strings: a number or date is converted first.
		vs, ps := Text(v), Text(p)
		if like(strings.ToLower(vs), strings.ToLower(ps)) {
			return negate(True, e.Not), nil
		}
		return negate(False, e.Not), nil
	}
	return Unknown, fmt.Errorf("%w: predicate %T at %s", ErrUnsupported, e, e.Position())
}

func negate(t Truth, not bool) Truth {
	if !not {
		return t
	}
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

// Eval evaluates a scalar expression.
func Eval(e Expr, env Env) (any, error) {
	switch e := e.(type) {
	case *Literal:
		switch e.Kind {
		case NullLit:
			return nil, nil
		case StringLit:
			return e.Value, nil
		case NumberLit:
			if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
				return n, nil
			}
			f, err := strconv.ParseFloat(e.Value, 64)
			if err != nil {
				return nil, fmt.Errorf("tsql: number %q: %w", e.Value, err)
			}
			return f, nil
		}
	case *ColumnRef:
		return env.Column(e)
	case *DatePart:
		// The datepart argument of DATEADD, DATEDIFF, DATEPART and DATENAME: the function reads it.
		return DatePartName(e.Name), nil
	case *VariableRef:
		return env.Variable(e)
	case *Paren:
		return Eval(e.X, env)
	case *FuncCall:
		args := make([]any, len(e.Args))
		for i, a := range e.Args {
			v, err := Eval(a, env)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
		return env.Call(e, args)
	case *Unary:
		if e.Op == "NOT" {
			break
		}
		v, err := Eval(e.X, env)
		if err != nil || v == nil || e.Op == "+" {
			return v, err
		}
		switch x := v.(type) {
		case int64:
			if e.Op == "-" {
				return -x, nil
			}
			return ^x, nil
		case float64:
			if e.Op == "-" {
				return -x, nil
			}
		}
		return nil, fmt.Errorf("tsql: %s of %T", e.Op, v)
	case *Binary:
		switch e.Op {
		case "+", "-", "*", "/", "%":
			l, err := Eval(e.Left, env)
			if err != nil {
				return nil, err
			}
			r, err := Eval(e.Right, env)
			if err != nil {
				return nil, err
			}
			return arith(e.Op, l, r)
		}
	case *Cast:
		if e.Style != nil {
			break
		}
		v, err := Eval(e.X, env)
		if err != nil {
			return nil, err
		}
		c, err := castTo(v, e.Type)
		if err != nil && strings.HasPrefix(e.Func, "TRY_") {
			if _, ok := err.(*ValueError); ok {
				return nil, nil // TRY_CAST and TRY_CONVERT give NULL where CAST fails
			}
		}
		return c, err
	case *Case:
		for _, w := range e.Whens {
			cond := w.Cond
			if e.Operand != nil {
				cond = &Binary{Op: "=", Left: e.Operand, Right: w.Cond, Pos: e.Pos}
			}
			t, err := Test(cond, env)
			if err != nil {
				return nil, err
			}
			if t == True {
				return Eval(w.Result, env)
			}
		}
		if e.Else != nil {
			return Eval(e.Else, env)
		}
		return nil, nil
	}
	return nil, fmt.Errorf("%w: expression %T at %s", ErrUnsupported, e, e.Position())
}

func arith(op string, l, r any) (any, error) {
	if l == nil || r == nil {
		return nil, nil
	}
	if ls, ok := l.(string); ok && op == "+" {
		if rs, ok := r.(string); ok {
			return ls + rs, nil
		}
	}
	l, r, err := unify(l, r)
	if err != nil {
		return nil, err
	}
	li, lok := l.(int64)
	ri, rok := r.(int64)
	if lok && rok {
		switch op {
		case "+":
			return li + ri, nil
		case "-":
			return li - ri, nil
		case "*":
			return li * ri, nil
		case "/", "%":
			if ri == 0 {
				return nil, ErrDivideByZero
			}
			if op == "/" {
				return li / ri, nil
			}
			return li % ri, nil
		}
	}
	lf, lok := toFloat(l)
	rf, rok := toFloat(r)
	if !lok || !rok {
		return nil, fmt.Errorf("tsql: %T %s %T", l, op, r)
	}
	switch op {
	case "+":
		return lf + rf, nil
	case "-":
		return lf - rf, nil
	case "*":
		return lf * rf, nil
	case "/":
		if rf == 0 {
			return nil, ErrDivideByZero
		}
		return lf / rf, nil
	}
	return nil, fmt.Errorf("tsql: %s of floats", op)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// compareOp compares two values; NULL on either side is UNKNOWN.
func compareOp(op string, l, r any) (Truth, error) {
	if l == nil || r == nil {
		return Unknown, nil
	}
	c, err := compare(l, r)
	if err != nil {
		return Unknown, err
	}
	var ok bool
	switch op {
	case "=":
		ok = c == 0
	case "<>", "!=":
		ok = c != 0
	case "<", "!>":
		ok = c < 0 || (op == "!>" && c == 0)
	case ">", "!<":
		ok = c > 0 || (op == "!<" && c == 0)
	case "<=":
		ok = c <= 0
	case ">=":
		ok = c >= 0
	default:
		return Unknown, fmt.Errorf("tsql: unknown comparison %q", op)
	}
	if ok {
		return True, nil
	}
	return False, nil
}

func compare(l, r any) (int, error) {
	l, r, err := unify(l, r)
	if err != nil {
		return 0, err
	}
	switch a := l.(type) {
	case string:
		b, ok := r.(string)
		if !ok {
			return 0, typeClash(l, r)
		}
		return strings.Compare(strings.ToLower(strings.TrimRight(a, " ")), strings.ToLower(strings.TrimRight(b, " "))), nil
	case bool:
		return compare(boolInt(a), r)
	case time.Time:
		b, ok := r.(time.Time)
		if !ok {
			return 0, typeClash(l, r)
		}
		return a.Compare(b), nil
	}
	if b, ok := r.(bool); ok {
		r = boolInt(b)
	}
	lf, lok := toFloat(l)
	rf, rok := toFloat(r)
	if !lok || !rok {
		return 0, typeClash(l, r)
	}
	switch {
	case lf < rf:
		return -1, nil
	case lf > rf:
		return 1, nil
	}
	return 0, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// like matches SQL LIKE patterns: % any run, _ one character, [abc] and [^abc] one of a set.
func like(s, p string) bool {
	sr, pr := []rune(s), []rune(p)
	// failed memoizes (i, j) pairs that cannot match, keeping % patterns polynomial.
	failed := make(map[[2]int]bool)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if failed[[2]int{i, j}] {
			return false
		}
		if matchFrom(sr, pr, i, j, match) {
			return true
		}
		failed[[2]int{i, j}] = true
		return false
	}
	return match(0, 0)
}

// matchFrom matches pr[j:] against sr[i:]; after a % it asks rest whether the remainder matches
// from each later position.
func matchFrom(sr, pr []rune, i, j int, rest func(i, j int) bool) bool {
	for j < len(pr) {
		switch pr[j] {
		case '%':
			for k := i; k <= len(sr); k++ {
				if rest(k, j+1) {
					return true
				}
			}
			return false
		case '_':
			if i >= len(sr) {
				return false
			}
		case '[':
			end := j + 1
			for end < len(pr) && pr[end] != ']' {
				end++
			}
			if end >= len(pr) || i >= len(sr) {
				return false
			}
			set, neg := pr[j+1:end], false
			if len(set) > 0 && set[0] == '^' {
				set, neg = set[1:], true
			}
			in := false
			for k := 0; k < len(set); k++ {
				if k+2 < len(set) && set[k+1] == '-' {
					in = in || sr[i] >= set[k] && sr[i] <= set[k+2]
					k += 2
				} else if sr[i] == set[k] {
					in = true
				}
			}
			if in == neg {
				return false
			}
			j = end
		default:
			if i >= len(sr) || sr[i] != pr[j] {
				return false
			}
		}
		i++
		j++
	}
	return i == len(sr)
}
