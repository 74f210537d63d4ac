package tdssim

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-sql/sqlexp"
	mssql "github.com/microsoft/go-mssqldb"
)

func TestMultipleResultSetsAndRowsAffected(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		sets := func(r *Request) (*Result, error) {
			return &Result{Sets: []ResultSet{
				{Columns: []Column{{Name: "a", Type: TypeInt}}, Rows: []Row{{1}, {2}}},
				{Columns: []Column{{Name: "b", Type: TypeNVarChar, Size: 10}}, Rows: nil},
				{Columns: []Column{{Name: "c", Type: TypeBit}, {Name: "d", Type: TypeFloat}}, Rows: []Row{{true, 1.5}}},
			}}, nil
		}
		rt.Exact("exec three_sets", sets)
		rt.Exact("exec three_sets @x", sets)
		rt.Prefix("update ax.inventtrans set", func(r *Request) (*Result, error) { return Affected(17), nil })
		rt.Exact("set nocount on; update t set x = 1", func(r *Request) (*Result, error) { return NoCount(), nil })
		e := newEnv(t, m, Config{Handler: rt})
		ctx := ctxT(t)
		for _, args := range [][]any{nil, {stdsql.Named("x", 1)}} {
			rows, err := e.db.QueryContext(ctx, map[bool]string{true: "exec three_sets", false: "exec three_sets @x"}[args == nil], args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for set := 0; ; set++ {
				cols, _ := rows.Columns()
				got = append(got, fmt.Sprintf("set%d%v", set, cols))
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					got = append(got, fmt.Sprint(vals...))
				}
				if !rows.NextResultSet() {
					break
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			want := "set0[a] 1 2 set1[b] set2[c d] true 1.5"
			if s := strings.Join(got, " "); s != want {
				t.Fatalf("args=%v: got %q, want %q", args, s, want)
			}
		}
		res, err := e.db.ExecContext(ctx, "UPDATE ax.INVENTTRANS  SET qty = 0 -- comment\n WHERE 1=1")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 17 {
			t.Fatalf("rows affected = %d", n)
		}
		res, err = e.db.ExecContext(ctx, "update ax.inventtrans set qty = @p1", 5)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 17 {
			t.Fatalf("rpc rows affected = %d", n)
		}
		res, err = e.db.ExecContext(ctx, "set nocount on; update t set x = 1")
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 0 {
			t.Fatalf("nocount rows affected = %d", n)
		}
	})
}

func TestPingBuiltinsAndRouter(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Regexp(regexp.MustCompile(`^select count\(\*\) from (\S+)$`), func(r *Request) (*Result, error) {
			return Scalar(int64(len(r.Normalized()))), nil
		})
		rt.Proc("distribution.dbo.sp_replmonitorsubscriptionpendingcmds", func(r *Request) (*Result, error) {
			return Table([]string{"pendingcmdcount", "estimatedprocesstime"}, Row{int64(12), int64(3)}), nil
		})
		rt.Proc("sp_who", func(r *Request) (*Result, error) { return Scalar("short name"), nil })
		e := newEnv(t, m, Config{Handler: rt, DefaultDatabase: "x"})
		ctx := ctxT(t)
		if err := e.db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.ExecContext(ctx, "SET XACT_ABORT ON; SET LOCK_TIMEOUT 5000"); err != nil {
			t.Fatalf("SET builtin: %v", err)
		}
		var n int64
		if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM [Orders] WITH (NOLOCK)").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != int64(len("select count(*) from [orders]")) {
			t.Fatalf("normalised length = %d", n)
		}
		var pending, est int64
		if err := e.db.QueryRowContext(ctx, "distribution.dbo.sp_replmonitorsubscriptionpendingcmds",
			stdsql.Named("publisher", "AX"), stdsql.Named("publisher_db", "AXDB")).Scan(&pending, &est); err != nil || pending != 12 || est != 3 {
			t.Fatalf("proc: %d %d %v", pending, est, err)
		}
		var s string
		if err := e.db.QueryRowContext(ctx, "master.dbo.sp_who").Scan(&s); err != nil || s != "short name" {
			t.Fatalf("proc by last segment: %q %v", s, err)
		}
		_, err := e.db.ExecContext(ctx, "select * from nowhere")
		if me := sqlErr(t, err); me.Number != 208 || me.Class != 16 || me.Message != "Invalid object name 'nowhere'." {
			t.Fatalf("unrouted SQL: %+v", me)
		}
		_, err = e.db.ExecContext(ctx, "dbo.sp_missing")
		if me := sqlErr(t, err); me.Number != 2812 {
			t.Fatalf("unrouted proc: %+v", me)
		}
		mustPing(t, e.db)
	})
}

func TestHandlerErrorsAndPanics(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Prefix("select deadlock", func(r *Request) (*Result, error) { return nil, DeadlockError() })
		rt.Prefix("select wrapped", func(r *Request) (*Result, error) {
			return nil, fmt.Errorf("context: %w", LockTimeoutError())
		})
		rt.Prefix("select plain", func(r *Request) (*Result, error) { return nil, errors.New("plain go error") })
		rt.Prefix("select panic", func(r *Request) (*Result, error) { panic("boom") })
		rt.Prefix("select severe", func(r *Request) (*Result, error) {
			return nil, &Error{Number: 9001, Class: 21, Message: "log not available"}
		})
		rt.Prefix("select stream error", func(r *Request) (*Result, error) {
			return Stream([]Column{{Name: "n", Type: TypeInt}}, func(yield func(Row, error) bool) {
				if !yield(Row{1}, nil) {
					return
				}
				yield(nil, PermissionDeniedError("SELECT", "CUSTTABLE", "master", "dbo"))
			}), nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		ctx := ctxT(t)
		for _, tc := range []struct {
			q      string
			number int32
			class  uint8
		}{
			{"select deadlock", 1205, 13},
			{"select deadlock @p1", 1205, 13},
			{"select wrapped", 1222, 16},
			{"select plain", 50000, 16},
			{"select panic", 50000, 16},
		} {
			var args []any
			if strings.Contains(tc.q, "@p1") {
				args = []any{1}
			}
			var x int
			err := e.db.QueryRowContext(ctx, tc.q, args...).Scan(&x)
			me := sqlErr(t, err)
			if me.Number != tc.number || me.Class != tc.class || me.ServerName != "TDSSIM" {
				t.Errorf("%s: %+v", tc.q, me)
			}
		}
		if c := e.srv.Stats(); c.Connections != 1 || c.HandlerPanics != 1 {
			t.Errorf("SQL errors must keep the connection: %+v", c)
		}
		rows, err := e.db.QueryContext(ctx, "select stream error")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if me := sqlErr(t, rows.Err()); n != 1 || me.Number != 229 {
			t.Errorf("mid-stream error: n=%d %+v", n, me)
		}
		rows.Close()
		// Class >= 20: SRVERROR, connection dropped, pool recovers.
		_, err = e.db.ExecContext(ctx, "select severe")
		var se mssql.ServerError
		if !errors.As(err, &se) || sqlErr(t, err).Number != 9001 {
			t.Errorf("severe: %T %v", err, err)
		}
		mustPing(t, e.db)
	})
}

func TestTransactions(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Exact("select @@trancount", func(r *Request) (*Result, error) {
			n := 0
			if r.Session.InTransaction() {
				n = 1
			}
			return Scalar(int32(n)), nil
		})
		rt.Prefix("insert", func(r *Request) (*Result, error) { return Affected(1), nil })
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		ctx := ctxT(t)
		tranCount := func(q interface {
			QueryRowContext(context.Context, string, ...any) *stdsql.Row
		}) int {
			var n int
			if err := q.QueryRowContext(ctx, "select @@trancount").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, commit := range []bool{true, false} {
			tx, err := e.db.BeginTx(ctx, &stdsql.TxOptions{Isolation: stdsql.LevelReadCommitted})
			if err != nil {
				t.Fatal(err)
			}
			if n := tranCount(tx); n != 1 {
				t.Fatalf("in tx: trancount %d", n)
			}
			if _, err := tx.ExecContext(ctx, "insert into t values (@p1)", 1); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatalf("commit=%v: %v", commit, err)
			}
			if n := tranCount(e.db); n != 0 {
				t.Fatalf("after tx: trancount %d", n)
			}
		}
	})
}

func TestStreamingIterator(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		const total = 20000
		rt := NewRouter()
		rt.Exact("select * from big", func(r *Request) (*Result, error) {
			return Stream([]Column{{Name: "id", Type: TypeBigInt}, {Name: "txt", Type: TypeNVarChar, Size: 40}},
				func(yield func(Row, error) bool) {
					for i := range total {
						if !yield(Row{int64(i), fmt.Sprintf("row %d", i)}, nil) {
							return
						}
					}
				}), nil
		})
		e := newEnv(t, m, Config{Handler: rt}, WithParam("packet size", "512"))
		rows, err := e.db.QueryContext(ctxT(t), "select * from big")
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for rows.Next() {
			var id int64
			var txt string
			if err := rows.Scan(&id, &txt); err != nil {
				t.Fatal(err)
			}
			if id != int64(i) || txt != fmt.Sprintf("row %d", i) {
				t.Fatalf("row %d = %d %q", i, id, txt)
			}
			i++
		}
		if err := rows.Err(); err != nil || i != total {
			t.Fatalf("read %d rows, err %v", i, err)
		}
	})
}

// TestPacketFraming checks on the wire that reply packets respect the
// negotiated size, that non-final packets have status 0 and that packet
// ids count up (plaintext, so the tap sees TDS directly).
func TestPacketFraming(t *testing.T) {
	t.Parallel()
	rt := echoRouter()
	rt.Exact("select big", func(r *Request) (*Result, error) {
		rows := make([]Row, 300)
		for i := range rows {
			rows[i] = Row{int64(i), strings.Repeat("z", i%50)}
		}
		return Rows([]Column{{Name: "a", Type: TypeBigInt}, {Name: "b", Type: TypeNVarChar, Size: 60}}, rows...), nil
	})
	srv, _ := newServer(t, Config{Handler: rt})
	for _, size := range []int{512, 4096} {
		db, tap := openTapped(t, srv.DSN("", WithParam("packet size", fmt.Sprint(size))))
		ctx := ctxT(t)
		rows, err := db.QueryContext(ctx, "select big")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
		var s string
		if err := db.QueryRowContext(ctx, "select @p1", strings.Repeat("q", 7000)).Scan(&s); err != nil {
			t.Fatal(err)
		}
		db.Close()
		read, _ := tap.taps()[0].snapshot()
		pkts := parsePackets(t, read)
		var msgs, multi int
		var want byte = 1
		inMsg := 0
		for i, p := range pkts {
			if p.typ != pktReply {
				t.Fatalf("packet %d: type %#x", i, p.typ)
			}
			if p.length > size {
				t.Fatalf("packet %d: %d bytes > packet size %d", i, p.length, size)
			}
			if p.id != want {
				t.Fatalf("packet %d: id %d, want %d", i, p.id, want)
			}
			want++
			inMsg++
			switch p.status {
			case 0:
				if p.length != size {
					t.Errorf("packet %d: a non-final packet of %d bytes: the writer sends only full packets before the last (status 0)", i, p.length)
				}
			case statusEOM:
				msgs++
				if inMsg > 1 {
					multi++
				}
				want, inMsg = 1, 0
			default:
				t.Fatalf("packet %d: status %#x", i, p.status)
			}
		}
		if msgs < 4 || multi < 2 {
			t.Fatalf("size %d: %d messages, %d multi-packet", size, msgs, multi)
		}
	}
}

func TestInfoMessages(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Exact("exec noisy", func(r *Request) (*Result, error) {
			res := Scalar(int32(3))
			res.Messages = []Message{{Number: 0, Class: 0, State: 1, Text: "hello from PRINT"}}
			return res, nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		ctx := ctxT(t)
		retmsg := &sqlexp.ReturnMessage{}
		rows, err := e.db.QueryContext(ctx, "exec noisy", retmsg)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var notices []string
		var vals []int
	loop:
		for {
			switch msg := retmsg.Message(ctx).(type) {
			case sqlexp.MsgNotice:
				notices = append(notices, msg.Message.String())
			case sqlexp.MsgNext:
				for rows.Next() {
					var v int
					if err := rows.Scan(&v); err != nil {
						t.Fatal(err)
					}
					vals = append(vals, v)
				}
			case sqlexp.MsgNextResultSet:
				if !rows.NextResultSet() {
					break loop
				}
			case sqlexp.MsgError:
				t.Fatal(msg.Error)
			}
		}
		if len(notices) != 1 || notices[0] != "hello from PRINT" || len(vals) != 1 || vals[0] != 3 {
			t.Fatalf("notices %q values %v", notices, vals)
		}
	})
}

func TestSessionValuesAndConns(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	rt.Exact("select counter", func(r *Request) (*Result, error) {
		n, _ := r.Session.Get("n")
		c, _ := n.(int64)
		r.Session.Set("n", c+1)
		return Scalar(c + 1), nil
	})
	e := newEnv(t, modes()[0], Config{Handler: rt})
	e.db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	for want := int64(1); want <= 3; want++ {
		var got int64
		if err := e.db.QueryRowContext(ctx, "select counter").Scan(&got); err != nil || got != want {
			t.Fatalf("counter = %d, %v; want %d", got, err, want)
		}
	}
	conns := e.srv.Conns()
	if len(conns) != 1 || conns[0].Resets() < 2 {
		t.Fatalf("conns = %+v", conns)
	}
	if v, ok := conns[0].Get("n"); !ok || v.(int64) != 3 {
		t.Fatalf("value = %v", v)
	}
	conns[0].Delete("n")
	if _, ok := conns[0].Get("n"); ok {
		t.Fatal("Delete")
	}
}

func TestDSN(t *testing.T) {
	t.Parallel()
	srv := New(Config{})
	if got := srv.DSN("AXDB"); got != "sqlserver://sa:tdssim@127.0.0.1:0?app+name=tdssim&database=AXDB&encrypt=disable" {
		t.Fatalf("DSN = %s", got)
	}
	got := srv.DSN("", WithUser("u@x", "p:w/d"), WithAppName("cockpit ui"), WithEncrypt(""), WithParam("packet size", "512"))
	if got != "sqlserver://u%40x:p%3Aw%2Fd@127.0.0.1:0?app+name=cockpit+ui&packet+size=512" {
		t.Fatalf("DSN = %s", got)
	}
}
