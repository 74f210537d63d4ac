package tdssim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAttentionSlowQuery cancels a query that only ends when cancelled,
// by deadline and by explicit cancel. The server acknowledges both. Note
// the driver itself discards the connection after context.DeadlineExceeded
// (it implements net.Error, which checkBadConn treats as fatal), but
// keeps it after context.Canceled.
func TestAttentionSlowQuery(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		causes := make(chan error, 1)
		started := make(chan struct{}, 1)
		rt := echoRouter()
		rt.Exact("exec slow", func(r *Request) (*Result, error) {
			started <- struct{}{}
			<-r.Context().Done()
			causes <- context.Cause(r.Context())
			return nil, r.Context().Err()
		})
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		mustPing(t, e.db)

		ctx, cancel := context.WithTimeout(ctxT(t), 150*time.Millisecond)
		defer cancel()
		_, err := e.db.ExecContext(ctx, "exec slow")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %T %v", err, err)
		}
		<-started
		if c := <-causes; !errors.Is(c, errAttention) {
			t.Fatalf("handler context cause = %v", c)
		}
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Attentions != 1 || st.AttentionAcks != 1 {
			t.Fatalf("stats = %+v", st)
		}

		conns := e.srv.Stats().Connections
		ctx2, cancel2 := context.WithCancel(ctxT(t))
		go func() {
			<-started
			cancel2()
		}()
		_, err = e.db.ExecContext(ctx2, "exec slow")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want Canceled, got %T %v", err, err)
		}
		<-causes
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Attentions != 2 || st.AttentionAcks != 2 || st.Connections != conns {
			t.Fatalf("after cancel the connection must be reused: %+v (had %d connections)", st, conns)
		}
	})
}

func TestAttentionMidStreamCancel(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		stopped := make(chan int, 1)
		rt := echoRouter()
		rt.Exact("select * from trickle", func(r *Request) (*Result, error) {
			return &Result{Sets: []ResultSet{{
				Columns:      []Column{{Name: "n", Type: TypeInt}},
				FlushEachRow: true,
				Iter: func(yield func(Row, error) bool) {
					for i := 0; ; i++ {
						if !yield(Row{i}, nil) {
							stopped <- i
							return
						}
						if i >= 2 { // then trickle: wait for the cancel
							<-r.Context().Done()
						}
					}
				},
			}}}, nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		ctx, cancel := context.WithCancel(ctxT(t))
		rows, err := e.db.QueryContext(ctx, "select * from trickle")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			var n int
			if !rows.Next() {
				t.Fatalf("row %d: %v", i, rows.Err())
			}
			if err := rows.Scan(&n); err != nil || n != i {
				t.Fatalf("row %d = %d %v", i, n, err)
			}
		}
		cancel()
		for rows.Next() {
		}
		if err := rows.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("rows.Err() = %v", err)
		}
		rows.Close()
		if n := <-stopped; n != 3 {
			t.Fatalf("iterator stopped at %d", n)
		}
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Connections != 1 || st.Attentions != st.AttentionAcks {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// TestAttentionEarlyCloseLoop exercises the late-attention path: QueryRow
// reads one row of twenty and closes, which cancels the query after the
// server has already sent the whole response. Each such ATTENTION needs a
// standalone DONE(ATTN); one missing acknowledgement costs a 5 s stall.
func TestAttentionEarlyCloseLoop(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.db.SetMaxOpenConns(1)
		ctx := ctxT(t)
		start := time.Now()
		const loops = 300
		for i := range loops {
			var n int64
			if err := e.db.QueryRowContext(ctx, "select n from numbers").Scan(&n); err != nil || n != 0 {
				t.Fatalf("loop %d: %d %v", i, n, err)
			}
			rows, err := e.db.QueryContext(ctx, "select n from numbers")
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
			if err := rows.Close(); err != nil {
				t.Fatalf("loop %d close: %v", i, err)
			}
		}
		st := e.srv.Stats()
		t.Logf("%d queries in %v, %d attentions, %d acks", 2*loops, time.Since(start), st.Attentions, st.AttentionAcks)
		// An unacknowledged attention would have cost the driver its connection (a StreamError
		// after its drain timeout): one connection throughout, every attention acknowledged.
		if st.Attentions == 0 || st.Attentions != st.AttentionAcks || st.Connections != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// TestAttentionIgnored is the "server stuck" case: the request hangs and
// ATTENTION is ignored, so the driver gives up after its 5 s drain with a
// StreamError and discards the connection; the pool then recovers.
func TestAttentionIgnored(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		// Logged in beforehand: the deadline below must find the request sent, not a TLS
		// handshake still going on a loaded machine.
		e.db.SetMaxOpenConns(1)
		mustPing(t, e.db)
		sql := regexpMust(`^select @@spid$`)
		e.srv.Faults().MustAdd(Rule{SQL: sql, Action: FaultHang, FirstN: 1})
		e.srv.Faults().MustAdd(Rule{SQL: sql, Action: FaultIgnoreAttention, FirstN: 1})
		ctx, cancel := context.WithTimeout(ctxT(t), time.Second)
		defer cancel()
		start := time.Now()
		var spid int
		err := e.db.QueryRowContext(ctx, "select @@spid").Scan(&spid)
		if !isStreamErr(err) {
			t.Fatalf("want StreamError, got %T %v", err, err)
		}
		if d := time.Since(start); d < 5*time.Second {
			t.Fatalf("driver gave up after %v, before its drain timeout", d)
		}
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Attentions < 1 || st.AttentionAcks != 0 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// TestAttentionEarlyCloseWhileStreaming closes after one row of a large
// streamed result, so the ATTENTION arrives while the server is still
// writing packets: it must stop, end with DONE(ATTN) and keep the
// connection usable.
func TestAttentionEarlyCloseWhileStreaming(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		stopped := make(chan int, 100)
		rt := echoRouter()
		rt.Exact("select * from huge", func(r *Request) (*Result, error) {
			return Stream([]Column{{Name: "id", Type: TypeBigInt}, {Name: "pad", Type: TypeNVarChar, Size: 100}},
				func(yield func(Row, error) bool) {
					for i := range 1_000_000 {
						if !yield(Row{int64(i), "padding padding padding padding padding"}, nil) {
							stopped <- i
							return
						}
					}
					stopped <- -1
				}), nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		ctx := ctxT(t)
		const loops = 15
		for i := range loops {
			var id int64
			var pad string
			if err := e.db.QueryRowContext(ctx, "select * from huge").Scan(&id, &pad); err != nil || id != 0 {
				t.Fatalf("loop %d: %d %v", i, id, err)
			}
			if n := <-stopped; n < 0 {
				t.Fatalf("loop %d: server streamed the whole result", i)
			}
		}
		// Each attention acknowledged, on the one connection (a missed one costs it).
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Attentions != loops || st.AttentionAcks != loops || st.Connections != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}
