package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// mdEscaper escapes the characters Markdown would read as markup, and flattens line breaks (a
// table cell is one line).
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "<", `\<`, ">", `\>`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

// md makes text safe to put in Markdown: it shows as written, never as markup or HTML.
func md(s string) string { return mdEscaper.Replace(s) }

// emph renders text with an emphasis class: bold for any class.
func emph(s, class string) string {
	if class == "" || s == "" {
		return md(s)
	}
	return "**" + md(s) + "**"
}

func writeMarkdown(w io.Writer, r *Report) error {
	d := r.layout()
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	if d.Banner != "" {
		p("> **⚠ %s**\n\n", md(d.Banner))
	}
	p("# %s\n\n%s\n\n", md(d.Title), md(d.Subtitle))
	for _, s := range d.Sections {
		p("## %s\n\n", md(s.Title))
		for _, b := range s.Blocks {
			writeMarkdownBlock(bw, b)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write Markdown report: %w", err)
	}
	return nil
}

func writeMarkdownBlock(w *bufio.Writer, b block) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	switch b.Kind {
	case blockAlert:
		p("> **⚠ %s**\n\n", md(b.Text))
	case blockPara:
		p("%s\n\n", emph(b.Text, b.Class))
	case blockSub:
		p("### %s\n\n", md(b.Text))
	case blockList:
		for _, it := range b.Items {
			p("- %s\n", md(it))
		}
		p("\n")
	case blockKV:
		p("| Item | Value |\n|---|---|\n")
		for _, e := range b.KV {
			p("| %s | %s |\n", md(e.Key), emph(e.Value, e.Class))
		}
		p("\n")
	case blockTable:
		cells := make([]string, len(b.Head))
		for i, h := range b.Head {
			cells[i] = md(h)
		}
		var sep strings.Builder
		for i := range b.Head {
			if b.Col(i) == colNum {
				sep.WriteString("---:|") // numbers right-aligned
			} else {
				sep.WriteString("---|")
			}
		}
		p("| %s |\n|%s\n", strings.Join(cells, " | "), sep.String())
		for _, r := range b.Rows {
			cells = cells[:0]
			for _, c := range r.Cells {
				cells = append(cells, md(c))
			}
			p("| %s |\n", strings.Join(cells, " | "))
		}
		p("\n")
	case blockChart:
		// The drain curve is drawn in HTML only; Markdown has its table and figures.
	}
}
