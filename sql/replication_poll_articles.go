package sql

import (
	stdsql "database/sql"
	"slices"
	"strings"
)

// The article list a Distributor keeps between polls, compactly: at 50,000 articles it is held for
// the whole life of a monitor, so it keeps only what the backlog merge needs (publication and
// article names, each publication's name once) and finds an article by binary search over its
// places sorted by upper-cased names, not in maps.

// scanArticles decodes query.Articles' rows (article_id, publication, article, source_object,
// destination_object) into *dst, keeping the publication and the article's name.
func (p *Distributor) scanArticles(dst *[]ArticleBacklog) func(*stdsql.Rows) error {
	var id int64
	var pub, src, dest stdsql.RawBytes
	var name string
	return func(r *stdsql.Rows) error {
		if err := r.Scan(&id, &pub, &name, &src, &dest); err != nil {
			return err
		}
		*dst = append(*dst, ArticleBacklog{Publication: p.pub(string(pub)), Article: name})
		return nil
	}
}

// pub is a publication's name, shared by its articles.
func (p *Distributor) pub(name string) string {
	if s, ok := p.pubs[name]; ok {
		return s
	}
	if p.pubs == nil {
		p.pubs = map[string]string{}
	}
	p.pubs[name] = name
	return name
}

// setArticles keeps a freshly read article list (it takes list), deduplicated as Backlog does:
// the first spelling of a name, in the list's order.
func (p *Distributor) setArticles(list []ArticleBacklog, marker articleMarker) {
	p.articleReads++
	sorted := make([]int32, len(list))
	for i := range sorted {
		sorted[i] = int32(i)
	}
	slices.SortStableFunc(sorted, func(a, b int32) int { return compareArticles(list[a], list[b]) })
	dup := 0
	for k := 1; k < len(sorted); k++ {
		if compareArticles(list[sorted[k]], list[sorted[k-1]]) == 0 {
			// A second spelling: the first (the lower place, by the stable sort) stands.
			list[sorted[k]].Pending, dup = -1, dup+1
			sorted[k] = sorted[k-1]
		}
	}
	if dup > 0 {
		place := make([]int32, len(list))
		kept := list[:0]
		for i, a := range list {
			place[i] = int32(len(kept))
			if a.Pending == 0 {
				kept = append(kept, a)
			}
		}
		list = kept
		sorted = slices.Compact(sorted)
		for k, i := range sorted {
			sorted[k] = place[i]
		}
	}
	p.base, p.sorted = list, sorted
	p.marker, p.articlesAt, p.stale = marker, p.now(), false
}

// find is the place of a publication's article in the kept list (names compare case-insensitively),
// or -1.
func (p *Distributor) find(pub, article string) int {
	want := ArticleBacklog{Publication: pub, Article: article}
	k, ok := slices.BinarySearchFunc(p.sorted, want, func(i int32, w ArticleBacklog) int { return compareArticles(p.base[i], w) })
	if !ok {
		return -1
	}
	return int(p.sorted[k])
}

// compareArticles orders articles by publication and article name as strings.ToUpper spells them.
func compareArticles(a, b ArticleBacklog) int {
	if c := compareUpper(a.Publication, b.Publication); c != 0 {
		return c
	}
	return compareUpper(a.Article, b.Article)
}

// compareUpper compares strings.ToUpper(a) and strings.ToUpper(b), without allocating while
// both are ASCII.
func compareUpper(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca >= 0x80 || cb >= 0x80 {
			// The ASCII prefixes are equal upper-cased, and end on a character boundary.
			return strings.Compare(strings.ToUpper(a[i:]), strings.ToUpper(b[i:]))
		}
		if 'a' <= ca && ca <= 'z' {
			ca -= 'a' - 'A'
		}
		if 'a' <= cb && cb <= 'z' {
			cb -= 'a' - 'A'
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}
