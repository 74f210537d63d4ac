package sql

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The kept article list merges pending rows (the merge Backlog makes too): names compare
// case-insensitively (ASCII and not), the first spelling of a name stands in the list's order, and
// a pending row for an article the list lacks is kept (and the list marked stale).
func TestDistributorMerge(t *testing.T) {
	articles := []Article{
		{Publication: "AX_PUB_PkTable_1", Name: "INVENTTRANS"},
		{Publication: "AX_PUB_PkTable_1", Name: "CustTable"},
		{Publication: "AX_PUB_PkTable_2", Name: "SALESLINE"},
		{Publication: "ax_pub_pktable_1", Name: "custtable"}, // a second spelling
		{Publication: "AX_PUB_PkTable_2", Name: "ärende"},
		{Publication: "AX_PUB_PkTable_2", Name: "ÄRENDE"}, // a second spelling, not ASCII
		{Publication: "AX_PUB_PkTable_2", Name: "ÄRENDEX"},
		{Publication: "AX_PUB_PkTable_1", Name: "A"},
		{Publication: "AX_PUB_PkTable_1", Name: "AB"},
	}
	pending := []ArticlePending{
		{Publication: "AX_PUB_PkTable_1", Article: "inventtrans", Pending: 5},
		{Publication: "AX_PUB_PkTable_1", Article: "INVENTTRANS", Pending: 7},
		{Publication: "AX_PUB_PKTABLE_1", Article: "CUSTTABLE", Pending: 3},
		{Publication: "AX_PUB_PkTable_2", Article: "Ärende", Pending: 11},
		{Publication: "AX_PUB_PkTable_1", Article: "ab", Pending: 2},
		{Publication: "AX_PUB_PkTable_3", Article: "NEWTABLE", Pending: 13}, // not in the list
		{Publication: "AX_PUB_PkTable_3", Article: "newtable", Pending: 1},
	}
	p := &Distributor{now: func() time.Time { return time.Unix(0, 0) }}
	names := make([]ArticleBacklog, len(articles))
	for i, a := range articles {
		names[i] = ArticleBacklog{Publication: p.pub(a.Publication), Article: a.Name}
	}
	p.setArticles(names, articleMarker{})
	p.pending = pending
	got := slices.Collect(p.merge())
	want := []ArticleBacklog{
		{Publication: "AX_PUB_PkTable_1", Article: "INVENTTRANS", Pending: 12},
		{Publication: "AX_PUB_PkTable_1", Article: "CustTable", Pending: 3},
		{Publication: "AX_PUB_PkTable_2", Article: "SALESLINE"},
		{Publication: "AX_PUB_PkTable_2", Article: "ärende", Pending: 11},
		{Publication: "AX_PUB_PkTable_2", Article: "ÄRENDEX"},
		{Publication: "AX_PUB_PkTable_1", Article: "A"},
		{Publication: "AX_PUB_PkTable_1", Article: "AB", Pending: 2},
		{Publication: "AX_PUB_PkTable_3", Article: "NEWTABLE", Pending: 14},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merge:\n%+v\nwant:\n%+v", got, want)
	}
	if !p.stale {
		t.Fatal("a pending row for an article the list lacks must have the list read again")
	}
	for _, a := range articles {
		if i := p.find(strings.ToLower(a.Publication), strings.ToUpper(a.Name)); i < 0 || !strings.EqualFold(p.base[i].Article, a.Name) {
			t.Fatalf("find %s.%s: %d", a.Publication, a.Name, i)
		}
	}
}

// compareUpper orders as the upper-cased strings do.
func TestCompareUpperIsToUpper(t *testing.T) {
	words := []string{"", "a", "A", "ab", "AB", "aB", "b", "Z", "[", "_", "ä", "Ä", "äb", "aä", "AÄ", "ß", "\xff", "a\xff"}
	sign := func(n int) int { return min(max(n, -1), 1) }
	for _, a := range words {
		for _, b := range words {
			if got, want := sign(compareUpper(a, b)), strings.Compare(strings.ToUpper(a), strings.ToUpper(b)); got != want {
				t.Errorf("compareUpper(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}
