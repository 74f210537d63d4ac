package tdssim

import (
	"context"
	stdsql "database/sql"
	"errors"
	"testing"
)

func namedArg(name string, v any) stdsql.NamedArg { return stdsql.Named(name, v) }

func TestNormalizeSQL(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"SELECT  1;", "select 1"},
		{"  select\n\t*\r\nFROM   T  ", "select * from t"},
		{"select a -- trailing comment\nfrom t", "select a from t"},
		{"select /* a /* nested */ comment */ a from t", "select a from t"},
		{"SELECT x FROM [Dbo].[Orders] WITH (NOLOCK) WHERE y = 'MiXeD  Case -- not a comment'", "select x from [dbo].[orders] where y = 'MiXeD  Case -- not a comment'"},
		{"select * from a with(nolock) join b WITH ( NOLOCK ) on 1=1", "select * from a join b on 1=1"},
		{"select 'it''s' from t;;", "select 'it''s' from t"},
		{"select withnolock from t", "select withnolock from t"},
		{"select 'with (nolock)' from t", "select 'with (nolock)' from t"},
		{"select \"Quoted Id\" from t", "select \"quoted id\" from t"},
		{"", ""},
	}
	for _, c := range cases {
		if got := NormalizeSQL(c.in); got != c.want {
			t.Errorf("NormalizeSQL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRouterDirect(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	hit := ""
	h := func(name string) HandlerFunc {
		return func(*Request) (*Result, error) { hit = name; return nil, nil }
	}
	rt.Exact("SELECT a FROM t", h("exact"))
	rt.Prefix("select a from", h("prefix"))
	rt.Regexp(regexpMust(`^select b`), h("regexp"))
	rt.Proc("[dbo].[usp_X]", h("proc"))
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{Kind: RequestBatch, SQL: "select a  from t -- x"}, "exact"},
		{Request{Kind: RequestBatch, SQL: "select a from u"}, "prefix"},
		{Request{Kind: RequestBatch, SQL: "SELECT b FROM u"}, "regexp"},
		{Request{Kind: RequestRPC, Proc: "DBO.USP_X"}, "proc"},
		{Request{Kind: RequestRPC, Proc: "db.dbo.usp_x"}, ""}, // full name differs, last segment "usp_x" not registered alone
	} {
		hit = ""
		_, err := rt.ServeTDS(&c.req)
		if hit != c.want || (c.want == "" && err == nil) {
			t.Errorf("%+v: hit %q err %v, want %q", c.req, hit, err, c.want)
		}
	}
	rt.Fallback(h("fallback"))
	hit = ""
	if _, err := rt.ServeTDS(&Request{Kind: RequestBatch, SQL: "select zzz"}); err != nil || hit != "fallback" {
		t.Errorf("fallback: %q %v", hit, err)
	}
	r := &Request{Params: []Param{{Name: "Val", Value: int64(1)}}}
	if v, ok := r.Param("@val"); !ok || v != int64(1) {
		t.Errorf("Param: %v %v", v, ok)
	}
	if _, ok := r.Param("other"); ok {
		t.Error("Param(other)")
	}
	if len(r.Args()) != 1 || r.Context() != context.Background() {
		t.Error("Args/Context")
	}
}

// TestRouterUnrouted: a request no route matches is answered as a server without the objects it
// names would answer it (SQL Server's numbers, classes and message forms), and SQL the router
// cannot read gets the simulator's own no-answer error, never a SQL Server number.
func TestRouterUnrouted(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	for _, c := range []struct {
		req    Request
		number int32
		msg    string
	}{
		{Request{Kind: RequestBatch, SQL: "SELECT a FROM [dbo].[Nowhere] n JOIN dbo.Other o ON o.id = n.id"}, 208, "Invalid object name 'dbo.Nowhere'."},
		{Request{Kind: RequestBatch, SQL: "EXEC sys.sp_gone @a = 1"}, 2812, "Could not find stored procedure 'sys.sp_gone'."},
		{Request{Kind: RequestRPC, Proc: "[dbo].[sp_gone]"}, 2812, "Could not find stored procedure '[dbo].[sp_gone]'."},
		{Request{Kind: RequestBatch, SQL: "SELECT 1"}, NoAnswerNumber, "tdssim: the simulator has no answer for: select 1"},
		{Request{Kind: RequestBatch, SQL: "DROP TABLE t"}, 3701, "Cannot drop the table 't', because it does not exist or you do not have permission."},
		{Request{Kind: RequestBatch, SQL: "INSERT INTO dbo.t VALUES (1)"}, 208, "Invalid object name 'dbo.t'."},
		{Request{Kind: RequestBatch, SQL: "GRANT SELECT ON t TO u"}, NoAnswerNumber, "tdssim: the simulator has no answer for: grant select on t to u"},
	} {
		_, err := rt.ServeTDS(&c.req)
		var e *Error
		class := uint8(16)
		if c.number == 3701 {
			class = 11 // sql-docs: Cannot drop … is severity 11
		}
		if !errors.As(err, &e) || e.Number != c.number || e.Class != class || e.Message != c.msg {
			t.Errorf("%+v: %v, want %d %q", c.req, err, c.number, c.msg)
		}
	}
}
