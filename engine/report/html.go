package report

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
)

// The HTML report is one self-contained file: inline style, inline SVG, no script, no external
// reference of any kind (it is evidence, opened anywhere, perhaps years later and offline).
// Everything variable goes through html/template's escaping.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"add": func(a, b float64) float64 { return a + b },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; font-size: 14px; line-height: 1.45; color: #1b1f24; background: #ffffff; margin: 0 auto; padding: 1.5em 2em 3em; max-width: 1400px; }
h1 { font-size: 1.6em; margin: 0.2em 0; }
h2 { font-size: 1.25em; margin-top: 2em; padding-bottom: 0.2em; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
.sub { color: #57606a; margin-top: 0; }
nav ul { list-style: none; padding: 0; margin: 0.6em 0 0; display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; }
nav a { color: #0b5cad; text-decoration: none; }
.banner, .alert { background: #ffebe9; border: 3px solid #cf222e; color: #82071e; padding: 0.8em 1em; margin: 0.8em 0; font-size: 1.1em; }
.banner { font-size: 1.25em; position: sticky; top: 0; z-index: 2; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.55em; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
table.kv th { background: #f6f8fa; white-space: nowrap; font-weight: 600; }
.scroll { overflow-x: auto; }
td { overflow-wrap: anywhere; }
th.num, td.num, th.time, td.time, th.id, td.id { white-space: nowrap; overflow-wrap: normal; }
th.num, td.num { text-align: right; width: 1%; }
td.num, td.time { font-variant-numeric: tabular-nums; }
tr.good td:last-child, td.good, p.good { color: #116329; }
tr.warn, td.warn, p.warn { background: #fff8c5; }
tr.bad, td.bad, p.bad { background: #ffebe9; color: #82071e; }
td.good, td.bad, td.warn, p.bad { font-weight: 600; }
figure { margin: 0.8em 0; }
figcaption { color: #57606a; font-size: 0.9em; }
svg.chart { max-width: 100%; height: auto; background: #ffffff; border: 1px solid #d0d7de; }
svg.chart .axis { stroke: #57606a; stroke-width: 1; }
svg.chart .grid { stroke: #d0d7de; stroke-width: 1; stroke-dasharray: 2 3; }
svg.chart .curve { fill: none; stroke: #0b5cad; stroke-width: 2; stroke-linejoin: round; }
svg.chart .peak { fill: #cf222e; }
svg.chart .marker { stroke: #9a6700; stroke-width: 1.5; stroke-dasharray: 5 4; }
svg.chart text { font-size: 11px; fill: #1b1f24; font-family: system-ui, sans-serif; }
footer { margin-top: 3em; color: #57606a; font-size: 0.85em; }
@media print { .banner, thead th { position: static; } body { padding: 0; } a { color: inherit; } }
</style>
</head>
<body>
{{if .Banner}}<div class="banner" role="alert"><strong>&#9888; {{.Banner}}</strong></div>
{{end}}<header>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}</p>
<nav><ul>{{range .Sections}}<li><a href="#{{.ID}}">{{.Title}}</a></li>{{end}}</ul></nav>
</header>
<main>
{{range .Sections}}<section id="{{.ID}}">
<h2>{{.Title}}</h2>
{{range .Blocks}}{{template "block" .}}{{end}}</section>
{{end}}</main>
<footer><p>Made by cutover from the hash-chained run journal. The section "Journal integrity" says how far the journal verified.</p></footer>
</body>
</html>
{{define "block"}}{{if eq .Kind "alert"}}<div class="alert" role="alert"><strong>&#9888; {{.Text}}</strong></div>
{{else if eq .Kind "p"}}<p{{with .Class}} class="{{.}}"{{end}}>{{.Text}}</p>
{{else if eq .Kind "h3"}}<h3>{{.Text}}</h3>
{{else if eq .Kind "list"}}<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>
{{else if eq .Kind "kv"}}<table class="kv"><tbody>{{range .KV}}<tr><th scope="row">{{.Key}}</th><td{{with .Class}} class="{{.}}"{{end}}>{{.Value}}</td></tr>{{end}}</tbody></table>
{{else if eq .Kind "table"}}{{$b := .}}<div class="scroll"><table><thead><tr>{{range $i, $h := .Head}}<th scope="col"{{with $b.Col $i}} class="{{.}}"{{end}}>{{$h}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr{{with .Class}} class="{{.}}"{{end}}>{{range $i, $c := .Cells}}<td{{with $b.Col $i}} class="{{.}}"{{end}}>{{$c}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{else if eq .Kind "chart"}}{{with .Chart}}{{template "chart" .}}{{end}}{{end}}{{end}}
{{define "chart"}}<figure>
<svg class="chart" viewBox="0 0 {{.Width}} {{.Height}}" width="{{.Width}}" height="{{.Height}}" role="img" aria-label="{{.Caption}}">
<title>Replication drain curve</title>
{{range .YTicks}}<line class="grid" x1="{{$.Left}}" y1="{{.At}}" x2="{{$.Right}}" y2="{{.At}}"/>
<text x="{{add $.Left -6}}" y="{{add .At 4}}" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<line class="axis" x1="{{.At}}" y1="{{$.Bottom}}" x2="{{.At}}" y2="{{add $.Bottom 5}}"/>
<text x="{{.At}}" y="{{add $.Bottom 19}}" text-anchor="middle">{{.Label}}</text>
{{end}}<line class="axis" x1="{{.Left}}" y1="{{.Top}}" x2="{{.Left}}" y2="{{.Bottom}}"/>
<line class="axis" x1="{{.Left}}" y1="{{.Bottom}}" x2="{{.Right}}" y2="{{.Bottom}}"/>
<text x="{{.Left}}" y="{{add .Top -8}}" text-anchor="start">pending commands</text>
<text x="{{.Right}}" y="{{add .Bottom 38}}" text-anchor="end">time (UTC)</text>
{{range .Markers}}<line class="marker" x1="{{.X}}" y1="{{$.Top}}" x2="{{.X}}" y2="{{$.Bottom}}"/>
<text x="{{add .X 4}}" y="{{add $.Top 12}}" text-anchor="start">{{.Label}}</text>
{{end}}<polyline class="curve" points="{{.Points}}"/>
<circle class="peak" cx="{{.Peak.X}}" cy="{{.Peak.Y}}" r="3.5"/>
</svg>
<figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}`))

func writeHTML(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	if err := htmlTemplate.Execute(bw, r.layout()); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}
