package tdssim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// TestConcurrency runs N goroutines x M queries on one pool, mixing
// batches, parameterised queries, procedures, multi-packet results, early
// closes (late attentions) and fault rules toggled at runtime.
func TestConcurrency(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := echoRouter()
		rt.Exact("select @a + @b", func(r *Request) (*Result, error) {
			a, _ := r.Param("a")
			b, _ := r.Param("b")
			return Scalar(a.(int64) + b.(int64)), nil
		})
		rt.Proc("usp_echo", func(r *Request) (*Result, error) {
			return Table([]string{"spid", "s"}, Row{int64(r.Session.SPID), r.Params[0].Value}), nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(6)
		const workers, queries = 8, 60
		ctx := ctxT(t)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 1))
				for q := range queries {
					if err := oneQuery(ctx, e, rng, w, q); err != nil {
						errs <- fmt.Errorf("worker %d query %d: %w", w, q, err)
						return
					}
				}
			})
		}
		// Toggle a harmless fault rule while the workers run.
		wg.Go(func() {
			for range 50 {
				id := e.srv.Faults().MustAdd(Rule{SQL: regexpMust("^never$"), Action: FaultError})
				e.srv.Faults().Remove(id)
				_ = e.srv.Conns()
				_ = e.srv.Stats()
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		st := e.srv.Stats()
		if st.Attentions != st.AttentionAcks || st.Panics != 0 || st.LoginFailures != 0 {
			t.Fatalf("stats = %+v", st)
		}
		t.Logf("stats: %+v", st)
	})
}

func oneQuery(ctx context.Context, e *env, rng *rand.Rand, w, q int) error {
	switch rng.IntN(5) {
	case 0:
		var n int64
		a, b := rng.Int64N(1000), rng.Int64N(1000)
		if err := e.db.QueryRowContext(ctx, "select @a + @b", namedArg("a", a), namedArg("b", b)).Scan(&n); err != nil {
			return err
		}
		if n != a+b {
			return fmt.Errorf("%d + %d = %d", a, b, n)
		}
	case 1:
		s := strings.Repeat(fmt.Sprintf("w%dq%d.", w, q), rng.IntN(2000))
		var got string
		if err := e.db.QueryRowContext(ctx, "select @p1", s).Scan(&got); err != nil {
			return err
		}
		if got != s {
			return fmt.Errorf("echo mismatch (len %d vs %d)", len(got), len(s))
		}
	case 2:
		var spid int64
		var s string
		want := fmt.Sprintf("%d/%d", w, q)
		if err := e.db.QueryRowContext(ctx, "usp_echo", want).Scan(&spid, &s); err != nil {
			return err
		}
		if s != want || spid < 51 {
			return fmt.Errorf("usp_echo = %d %q", spid, s)
		}
	case 3:
		// QueryRow on a 20-row result: early close, often a late attention.
		var n int64
		if err := e.db.QueryRowContext(ctx, "select n from numbers").Scan(&n); err != nil {
			return err
		}
	default:
		rows, err := e.db.QueryContext(ctx, "select n from numbers")
		if err != nil {
			return err
		}
		var sum, n int64
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				return err
			}
			sum += n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if sum != 190 {
			return fmt.Errorf("sum = %d", sum)
		}
	}
	return nil
}
