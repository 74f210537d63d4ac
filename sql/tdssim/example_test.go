package tdssim_test

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"regexp"

	mssql "github.com/microsoft/go-mssqldb"

	"cutover/sql/tdssim"
)

func Example() {
	rt := tdssim.NewRouter()
	rt.Exact("SELECT ItemId, Qty FROM InventSum WITH (NOLOCK) WHERE DataAreaId = @p1", func(r *tdssim.Request) (*tdssim.Result, error) {
		company, _ := r.Param("p1")
		cols := []tdssim.Column{
			{Name: "ItemId", Type: tdssim.TypeNVarChar, Size: 20},
			{Name: "Qty", Type: tdssim.TypeDecimal, Precision: 28, Scale: 12},
		}
		return tdssim.Rows(cols, tdssim.Row{fmt.Sprint(company, "-0001"), "12.5"}), nil
	})
	srv := tdssim.New(tdssim.Config{Handler: rt})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer srv.Close()

	db, err := stdsql.Open("sqlserver", srv.DSN("AXDB"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var item string
	var qty float64
	err = db.QueryRowContext(context.Background(),
		"select itemid, qty from inventsum where dataareaid = @p1", "dat").Scan(&item, &qty)
	fmt.Println(item, qty, err)

	// A deadlock on the next matching query only.
	srv.Faults().MustAdd(tdssim.Rule{SQL: regexp.MustCompile(`(?i)inventsum`), Action: tdssim.FaultError, Err: tdssim.DeadlockError(), FirstN: 1})
	err = db.QueryRowContext(context.Background(),
		"select itemid, qty from inventsum where dataareaid = @p1", "dat").Scan(&item, &qty)
	var me mssql.Error
	fmt.Println(errors.As(err, &me), me.Number)
	// Output:
	// dat-0001 12.5 <nil>
	// true 1205
}
