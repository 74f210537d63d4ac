package tdssim

import (
	"bytes"
	stdsql "database/sql"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
)

// allColumns has one column per ColumnType.
func allColumns() []Column {
	return []Column{
		{Name: "i", Type: TypeInt, Nullable: true},
		{Name: "bi", Type: TypeBigInt, Nullable: true},
		{Name: "si", Type: TypeSmallInt, Nullable: true},
		{Name: "ti", Type: TypeTinyInt, Nullable: true},
		{Name: "b", Type: TypeBit, Nullable: true},
		{Name: "f", Type: TypeFloat, Nullable: true},
		{Name: "r", Type: TypeReal, Nullable: true},
		{Name: "d", Type: TypeDecimal, Precision: 18, Scale: 4, Nullable: true},
		{Name: "d38", Type: TypeDecimal, Precision: 38, Scale: 10, Nullable: true},
		{Name: "dt", Type: TypeDateTime, Nullable: true},
		{Name: "dt2", Type: TypeDateTime2, Nullable: true},
		{Name: "da", Type: TypeDate, Nullable: true},
		{Name: "dto", Type: TypeDateTimeOffset, Nullable: true},
		{Name: "nv", Type: TypeNVarChar, Size: 50, Nullable: true},
		{Name: "nvm", Type: TypeNVarCharMax, Nullable: true},
		{Name: "vb", Type: TypeVarBinary, Size: 16, Nullable: true},
		{Name: "vbm", Type: TypeVarBinaryMax, Nullable: true},
		{Name: "g", Type: TypeUniqueIdentifier, Nullable: true},
	}
}

type typedRow struct {
	i, bi, si, ti stdsql.NullInt64
	b             stdsql.NullBool
	f, r          stdsql.NullFloat64
	d, d38        stdsql.NullString
	dt, dt2, da   stdsql.NullTime
	dto           stdsql.NullTime
	nv, nvm       stdsql.NullString
	vb, vbm       []byte
	g             mssql.NullUniqueIdentifier
}

func (tr *typedRow) dest() []any {
	return []any{&tr.i, &tr.bi, &tr.si, &tr.ti, &tr.b, &tr.f, &tr.r, &tr.d, &tr.d38, &tr.dt, &tr.dt2, &tr.da, &tr.dto, &tr.nv, &tr.nvm, &tr.vb, &tr.vbm, &tr.g}
}

func TestColumnTypesRoundTrip(t *testing.T) {
	ist := time.FixedZone("", -(5*3600 + 30*60))
	bigText := strings.Repeat("äbc✓", 3000) // 12,000 characters: several packets as PLP
	guid := "6F9619FF-8B86-D011-B42D-00C04FC964FF"
	rows := []Row{
		{int32(math.MinInt32), int64(math.MaxInt64), int16(math.MinInt16), uint8(255), true, math.Pi, float32(1.5),
			"-12345.6789", "-1234567890123456789012345678.0123456789",
			time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 2, 29, 23, 59, 59, 999_999_900, ist),
			"héllo wörld ✓", bigText, []byte{0, 1, 2, 0xFF}, bytes.Repeat([]byte{0xAB}, 9000), guid},
		{int64(math.MaxInt32), int64(math.MinInt64), int64(math.MaxInt16), 0, false, -0.5, -2.25,
			0.5, "0.0000000001",
			time.Date(9999, 12, 31, 23, 59, 59, 997_000_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_900, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			"", "", []byte{}, []byte{}, [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		make(Row, 18), // all NULL
	}
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Exact("select * from alltypes", func(r *Request) (*Result, error) {
			return Rows(allColumns(), rows...), nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		res, err := e.db.QueryContext(ctxT(t), "select * from alltypes")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		types, err := res.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		for i, ct := range types {
			if n, ok := ct.Nullable(); !ok || !n {
				t.Errorf("column %d nullable = %v %v", i, n, ok)
			}
		}
		if types[13].DatabaseTypeName() != "NVARCHAR" || types[7].DatabaseTypeName() != "DECIMAL" {
			t.Errorf("type names: %s %s", types[13].DatabaseTypeName(), types[7].DatabaseTypeName())
		}
		var got []typedRow
		for res.Next() {
			var tr typedRow
			if err := res.Scan(tr.dest()...); err != nil {
				t.Fatal(err)
			}
			got = append(got, tr)
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("got %d rows", len(got))
		}
		r0, r1, r2 := got[0], got[1], got[2]
		checkInt := func(name string, v stdsql.NullInt64, want int64) {
			t.Helper()
			if !v.Valid || v.Int64 != want {
				t.Errorf("%s = %+v, want %d", name, v, want)
			}
		}
		checkInt("i", r0.i, math.MinInt32)
		checkInt("bi", r0.bi, math.MaxInt64)
		checkInt("si", r0.si, math.MinInt16)
		checkInt("ti", r0.ti, 255)
		checkInt("i", r1.i, math.MaxInt32)
		checkInt("bi", r1.bi, math.MinInt64)
		if !r0.b.Bool || r1.b.Bool || !r1.b.Valid {
			t.Errorf("bit: %+v %+v", r0.b, r1.b)
		}
		if r0.f.Float64 != math.Pi || r0.r.Float64 != 1.5 || r1.f.Float64 != -0.5 || r1.r.Float64 != -2.25 {
			t.Errorf("floats: %+v %+v %+v %+v", r0.f, r0.r, r1.f, r1.r)
		}
		if r0.d.String != "-12345.6789" || r0.d38.String != "-1234567890123456789012345678.0123456789" ||
			r1.d.String != "0.5000" || r1.d38.String != "0.0000000001" {
			t.Errorf("decimals: %q %q %q %q", r0.d.String, r0.d38.String, r1.d.String, r1.d38.String)
		}
		checkTime := func(name string, v stdsql.NullTime, want time.Time) {
			t.Helper()
			if !v.Valid || !v.Time.Equal(want) {
				t.Errorf("%s = %v, want %v", name, v.Time, want)
			}
		}
		checkTime("dt min", r0.dt, rows[0][9].(time.Time))
		checkTime("dt max", r1.dt, rows[1][9].(time.Time))
		checkTime("dt2 min", r0.dt2, rows[0][10].(time.Time))
		checkTime("dt2 max", r1.dt2, rows[1][10].(time.Time))
		checkTime("date min", r0.da, rows[0][11].(time.Time))
		checkTime("date max", r1.da, rows[1][11].(time.Time))
		checkTime("dto", r0.dto, rows[0][12].(time.Time))
		checkTime("dto min", r1.dto, rows[1][12].(time.Time))
		if _, off := r0.dto.Time.Zone(); off != -(5*3600 + 30*60) {
			t.Errorf("dto offset = %d", off)
		}
		if r0.nv.String != "héllo wörld ✓" || r0.nvm.String != bigText || !r1.nv.Valid || r1.nv.String != "" || !r1.nvm.Valid || r1.nvm.String != "" {
			t.Errorf("strings: %q (len nvm %d) %+v %+v", r0.nv.String, len(r0.nvm.String), r1.nv, r1.nvm)
		}
		if !bytes.Equal(r0.vb, []byte{0, 1, 2, 0xFF}) || len(r0.vbm) != 9000 || r1.vb == nil || len(r1.vb) != 0 || r1.vbm == nil {
			t.Errorf("binary: %x %d %v %v", r0.vb, len(r0.vbm), r1.vb, r1.vbm)
		}
		if !r0.g.Valid || r0.g.UUID.String() != guid || r1.g.UUID != (mssql.UniqueIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}) {
			t.Errorf("guid: %v %v", r0.g, r1.g)
		}
		var nulls []any
		for _, d := range r2.dest() {
			nulls = append(nulls, reflect.ValueOf(d).Elem().Interface())
		}
		for i, v := range nulls {
			switch x := v.(type) {
			case stdsql.NullInt64:
				if x.Valid {
					t.Errorf("col %d not NULL", i)
				}
			case stdsql.NullBool:
				if x.Valid {
					t.Errorf("col %d not NULL", i)
				}
			case stdsql.NullFloat64:
				if x.Valid {
					t.Errorf("col %d not NULL", i)
				}
			case stdsql.NullString:
				if x.Valid {
					t.Errorf("col %d not NULL", i)
				}
			case stdsql.NullTime:
				if x.Valid {
					t.Errorf("col %d not NULL", i)
				}
			case []byte:
				if x != nil {
					t.Errorf("col %d not NULL", i)
				}
			case mssql.NullUniqueIdentifier:
				if x.Valid {
					t.Errorf("col %d not NULL", i)
				}
			}
		}
	})
}

func TestColumnEncodingErrors(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Exact("select too long", func(r *Request) (*Result, error) {
			return Rows([]Column{{Name: "s", Type: TypeNVarChar, Size: 3}}, Row{"abc"}, Row{"abcd"}), nil
		})
		rt.Exact("select bad type", func(r *Request) (*Result, error) {
			return Rows([]Column{{Name: "n", Type: TypeInt}}, Row{"x"}), nil
		})
		rt.Exact("select overflow", func(r *Request) (*Result, error) {
			return Rows([]Column{{Name: "n", Type: TypeDecimal, Precision: 4, Scale: 2}}, Row{"123.45"}), nil
		})
		rt.Exact("select old date", func(r *Request) (*Result, error) {
			return Rows([]Column{{Name: "n", Type: TypeDateTime}}, Row{time.Date(1752, 12, 31, 0, 0, 0, 0, time.UTC)}), nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		for _, q := range []string{"select too long", "select bad type", "select overflow", "select old date"} {
			rows, err := e.db.QueryContext(ctxT(t), q)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			if me := sqlErr(t, err); me.Number != 50000 || me.Class != 16 {
				t.Errorf("%s: %+v", q, me)
			}
		}
		mustPing(t, e.db)
		if c := e.srv.Stats().Connections; c != 1 {
			t.Errorf("encoding errors must not break the connection; %d connections", c)
		}
	})
}

// paramCase is one Go value passed as a parameter and what the handler
// must decode.
type paramCase struct {
	name string
	arg  any
	want any
}

func paramCases() []paramCase {
	dto := time.Date(2024, 2, 29, 13, 14, 15, 123_456_700, time.FixedZone("", 2*3600))
	long := strings.Repeat("ü", 5000) // 10,000 bytes: PLP
	uid := mssql.UniqueIdentifier{0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	return []paramCase{
		{"int64", int64(-9_000_000_000), int64(-9_000_000_000)},
		{"int", 42, int64(42)},
		{"int32", int32(-7), int64(-7)},
		{"int16", int16(-300), int64(-300)},
		{"int8", int8(-1), int64(255)}, // sent as TINYINT, which is unsigned
		{"uint8", uint8(200), int64(200)},
		{"float64", 3.25, 3.25},
		{"float32", float32(-1.5), -1.5},
		{"bool true", true, true},
		{"bool false", false, false},
		{"string", "héllo ✓", "héllo ✓"},
		{"empty string (PLP)", "", ""},
		{"long string (PLP)", long, long},
		{"bytes", []byte{1, 2, 3}, []byte{1, 2, 3}},
		{"empty bytes (PLP)", []byte{}, []byte{}},
		{"long bytes (PLP)", bytes.Repeat([]byte{7}, 9000), bytes.Repeat([]byte{7}, 9000)},
		{"time (DATETIMEOFFSET)", dto, dto},
		{"nil", nil, nil},
		{"NullString", stdsql.NullString{}, nil},
		{"NullInt64", stdsql.NullInt64{}, nil},
		{"NullTime", stdsql.NullTime{}, nil},
		{"NullInt64 valid", stdsql.NullInt64{Int64: 5, Valid: true}, int64(5)},
		{"VarChar", mssql.VarChar("ascii"), "ascii"},
		{"civil.Date", civil.Date{Year: 2024, Month: 1, Day: 2}, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"civil.DateTime", civil.DateTime{Date: civil.Date{Year: 1999, Month: 12, Day: 31}, Time: civil.Time{Hour: 23, Minute: 59, Second: 58, Nanosecond: 100}},
			time.Date(1999, 12, 31, 23, 59, 58, 100, time.UTC)},
		{"DateTime1", mssql.DateTime1(time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)), time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, time.UTC)},
		{"UniqueIdentifier", uid, uid.String()},
	}
}

func checkParam(t *testing.T, c paramCase, got any) {
	t.Helper()
	switch w := c.want.(type) {
	case time.Time:
		g, ok := got.(time.Time)
		if !ok || !g.Equal(w) {
			t.Errorf("%s: got %T %v, want %v", c.name, got, got, w)
			return
		}
		_, wo := w.Zone()
		_, goff := g.Zone()
		if wo != goff {
			t.Errorf("%s: offset %d, want %d", c.name, goff, wo)
		}
	default:
		if !reflect.DeepEqual(got, c.want) {
			if s, ok := got.(string); ok && len(s) > 50 {
				got = s[:50] + "..."
			}
			t.Errorf("%s: got %T %v, want %T", c.name, got, got, c.want)
		}
	}
}

func TestParameters(t *testing.T) {
	cases := paramCases()
	forEachMode(t, func(t *testing.T, m mode) {
		reqs := make(chan *Request, 1)
		capture := func(r *Request) (*Result, error) {
			reqs <- r
			return Affected(1), nil
		}
		rt := NewRouter()
		rt.Exact("insert into t values (@p1)", capture)
		rt.Exact("insert into t values (@Val, @Other)", capture)
		rt.Proc("dbo.usp_Store", capture)
		e := newEnv(t, m, Config{Handler: rt})
		ctx := ctxT(t)
		for _, c := range cases {
			// sp_executesql with a positional parameter.
			if _, err := e.db.ExecContext(ctx, "insert into t values (@p1)", c.arg); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			r := <-reqs
			if r.Kind != RequestRPC || r.Proc != "" || r.SQL != "insert into t values (@p1)" || len(r.Params) != 1 || r.Params[0].Name != "p1" || !strings.HasPrefix(r.ParamDecl, "@p1 ") {
				t.Fatalf("%s: request %+v", c.name, r)
			}
			checkParam(t, c, r.Params[0].Value)

			// sp_executesql with named parameters.
			if _, err := e.db.ExecContext(ctx, "insert into t values (@Val, @Other)", stdsql.Named("Val", c.arg), stdsql.Named("Other", int64(1))); err != nil {
				t.Fatalf("%s named: %v", c.name, err)
			}
			r = <-reqs
			if v, ok := r.Param("@val"); !ok {
				t.Fatalf("%s named: params %+v", c.name, r.Params)
			} else {
				checkParam(t, c, v)
			}

			// Procedure called by name.
			if _, err := e.db.ExecContext(ctx, "dbo.usp_Store", stdsql.Named("Val", c.arg)); err != nil {
				t.Fatalf("%s proc: %v", c.name, err)
			}
			r = <-reqs
			if r.Kind != RequestRPC || r.Proc != "dbo.usp_Store" || r.SQL != "" || len(r.Params) != 1 || r.Params[0].Name != "Val" {
				t.Fatalf("%s proc: request %+v", c.name, r)
			}
			checkParam(t, c, r.Params[0].Value)
		}
		// Procedure by name without arguments, and with positional ones.
		if _, err := e.db.ExecContext(ctx, "dbo.usp_Store"); err != nil {
			t.Fatal(err)
		}
		if r := <-reqs; r.Proc != "dbo.usp_Store" || len(r.Params) != 0 {
			t.Fatalf("no-arg proc: %+v", r)
		}
		if _, err := e.db.ExecContext(ctx, "dbo.usp_Store", int64(1), "two"); err != nil {
			t.Fatal(err)
		}
		if r := <-reqs; len(r.Params) != 2 || r.Params[0].Name != "" || r.Params[1].Value != "two" {
			t.Fatalf("positional proc: %+v", r.Params)
		}
	})
}

func TestParameterOutputAndReturnStatus(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Proc("usp_status", func(r *Request) (*Result, error) {
			if len(r.Params) != 1 || !r.Params[0].Output {
				return nil, &Error{Number: 50001, Class: 16, Message: "want one OUTPUT parameter"}
			}
			return &Result{ReturnStatus: ptr(int32(7)), RowsAffected: -1}, nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		var rs mssql.ReturnStatus
		var out int64
		if _, err := e.db.ExecContext(ctxT(t), "usp_status", stdsql.Named("x", stdsql.Out{Dest: &out}), &rs); err != nil {
			t.Fatal(err)
		}
		if rs != 7 {
			t.Fatalf("return status = %d", rs)
		}
	})
}

// TestNTextRoundTrip serves NTEXT, the type MSrepl_errors.error_text has: the driver must read a
// value of several packets, an empty one and NULL, and report the column as NTEXT.
func TestNTextRoundTrip(t *testing.T) {
	long := strings.Repeat("Das Feld ✓ ", 2000)
	forEachMode(t, func(t *testing.T, m mode) {
		rt := NewRouter()
		rt.Exact("select error_text from errs", func(r *Request) (*Result, error) {
			return Rows([]Column{{Name: "error_text", Type: TypeNText, Nullable: true}}, Row{long}, Row{""}, Row{nil}), nil
		})
		e := newEnv(t, m, Config{Handler: rt})
		res, err := e.db.QueryContext(ctxT(t), "select error_text from errs")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		types, err := res.ColumnTypes()
		if err != nil || types[0].DatabaseTypeName() != "NTEXT" {
			t.Fatalf("column type %v %v", types, err)
		}
		var got []stdsql.NullString
		for res.Next() {
			var s stdsql.NullString
			if err := res.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].String != long || !got[1].Valid || got[1].String != "" || got[2].Valid {
			t.Fatalf("values %d %v %v", len(got), got[1], got[2])
		}
	})
}
