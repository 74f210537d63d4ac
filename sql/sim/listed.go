package sim

import (
	"slices"
	"strings"

	"cutover/sql/tdssim"
)

// articleList is the distribution database's article list in the order query.Articles asks for
// (publication, then article), built once per publication set: publications are only ever added
// (w.pubs grows) and a publication's articles are fixed when it is created, so the number of
// publications says when the list must be built again. Answers read it under w.mu and never
// change it.
type articleList struct {
	pubs   int
	arts   []listedArticle
	newest int32
}

// listedArticle is one row of MSarticles joined to its publication.
type listedArticle struct {
	id        int32
	pub, name any
	pubName   string
	sort      string
}

// sortedArticles is the article list, sorted (w.mu held).
func (w *World) sortedArticles() []listedArticle {
	if w.listed.arts != nil && w.listed.pubs == len(w.pubs) {
		return w.listed.arts
	}
	arts := make([]listedArticle, 0, len(w.tables))
	var newest int32
	for _, p := range w.pubs {
		for _, ti := range p.tables {
			t := w.tables[ti]
			arts = append(arts, listedArticle{id: t.articleID, pub: p.nameAny, name: t.nameAny, pubName: p.name, sort: t.name})
			newest = max(newest, t.articleID)
		}
		for k, f := range p.functions {
			arts = append(arts, listedArticle{id: p.funcIDs[k], pub: p.nameAny, name: f, pubName: p.name, sort: f})
			newest = max(newest, p.funcIDs[k])
		}
	}
	slices.SortFunc(arts, func(a, b listedArticle) int {
		if c := strings.Compare(a.pubName, b.pubName); c != 0 {
			return c
		}
		return strings.Compare(a.sort, b.sort)
	})
	w.listed = articleList{pubs: len(w.pubs), arts: arts, newest: newest}
	return arts
}

// articlesMarker answers query.ArticlesMarker: MSarticles' row count and its highest article_id
// (NULL when there is no article, as MAX over no rows is).
func (w *World) articlesMarker() *tdssim.Result {
	w.lock()
	arts := w.sortedArticles()
	newest := w.listed.newest
	w.mu.Unlock()
	var max any
	if len(arts) > 0 {
		max = newest
	}
	return tdssim.Rows([]tdssim.Column{colBig("articles"), colInt("newest_article_id")}, tdssim.Row{int64(len(arts)), max})
}
