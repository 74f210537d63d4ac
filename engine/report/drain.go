package report

import (
	"cutover/engine"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Chart is the drain curve laid out for an SVG drawing: the plot area's edges, the curve's
// points, the axes' ticks and labelled vertical markers (all in SVG user units).
type Chart struct {
	Width, Height int
	// Left, Right, Top and Bottom are the plot area's edges (Bottom is the zero line).
	Left, Right, Top, Bottom float64
	// Points is the polyline's points attribute ("x,y x,y …").
	Points string
	// XTicks are times along the bottom axis, YTicks backlog values along the left one.
	XTicks []Tick
	YTicks []Tick
	// Markers are labelled moments (the downtime's start) inside the plotted time range.
	Markers []Marker
	// Peak is where the largest backlog is drawn.
	Peak Point
	// Caption describes the axes in words.
	Caption string
}

// Tick is one axis label at a position (x for the time axis, y for the backlog axis).
type Tick struct {
	At    float64
	Label string
}

// Marker is a labelled vertical line at x.
type Marker struct {
	X     float64
	Label string
}

// Point is a position in the chart.
type Point struct {
	X, Y float64
}

// Chart geometry.
const (
	chartWidth     = 760
	chartHeight    = 300
	chartLeft      = 70.0
	chartRightPad  = 24.0
	chartTop       = 22.0
	chartBottomPad = 46.0
	// maxChartPoints bounds the polyline; longer runs keep each bucket's largest sample.
	maxChartPoints = 600
)

// drain derives the table rows, the first/last/peak figures and the chart from the samples.
func (b *builder) drain() {
	d := &b.r.Drain
	n := len(d.Samples)
	if n == 0 {
		return
	}
	d.First, d.Last, d.Peak = d.Samples[0], d.Samples[n-1], d.Samples[0]
	for _, s := range d.Samples {
		if s.Pending > d.Peak.Pending {
			d.Peak = s
		}
	}
	d.Rows = downsample(d.Samples, MaxDrainRows)
	var began time.Time
	if dt := b.r.Summary.Downtime; dt != nil {
		began = dt.Began
	}
	d.Chart = layoutChart(d.Samples, d.Peak, began)
}

// downsample picks at most max samples evenly, the first and the last included.
func downsample(s []Sample, max int) []Sample {
	if len(s) <= max {
		return append([]Sample(nil), s...)
	}
	out := make([]Sample, 0, max)
	for i := 0; i < max; i++ {
		out = append(out, s[i*(len(s)-1)/(max-1)])
	}
	return out
}

// bucketMax keeps at most max samples, each the largest backlog of its run of samples, so the
// curve's peaks survive.
func bucketMax(s []Sample, max int) []Sample {
	if len(s) <= max {
		return s
	}
	out := make([]Sample, 0, max)
	for i := 0; i < max; i++ {
		lo, hi := i*len(s)/max, (i+1)*len(s)/max
		best := s[lo]
		for _, x := range s[lo:hi] {
			if x.Pending > best.Pending {
				best = x
			}
		}
		out = append(out, best)
	}
	if last := s[len(s)-1]; out[len(out)-1].At != last.At {
		out[len(out)-1] = last
	}
	return out
}

func layoutChart(samples []Sample, peak Sample, began time.Time) *Chart {
	c := &Chart{Width: chartWidth, Height: chartHeight, Left: chartLeft, Right: chartWidth - chartRightPad,
		Top: chartTop, Bottom: chartHeight - chartBottomPad}
	first, last := samples[0].At, samples[len(samples)-1].At
	span := last.Sub(first)
	w, h := c.Right-c.Left, c.Bottom-c.Top
	x := func(t time.Time) float64 {
		if span <= 0 {
			return c.Left + w/2
		}
		return c.Left + w*float64(t.Sub(first))/float64(span)
	}
	top := niceCeil(float64(peak.Pending))
	y := func(v int64) float64 { return c.Bottom - h*float64(v)/top }

	pts := bucketMax(samples, maxChartPoints)
	var sb strings.Builder
	for i, s := range pts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%.1f,%.1f", x(s.At), y(s.Pending))
	}
	if len(pts) == 1 {
		// A single sample still draws: a short flat segment around it.
		p := pts[0]
		sb.Reset()
		fmt.Fprintf(&sb, "%.1f,%.1f %.1f,%.1f", x(p.At)-4, y(p.Pending), x(p.At)+4, y(p.Pending))
	}
	c.Points = sb.String()
	c.Peak = Point{X: round1(x(peak.At)), Y: round1(y(peak.Pending))}
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		c.YTicks = append(c.YTicks, Tick{At: round1(c.Bottom - h*float64(i)/4), Label: compact(v)})
	}
	if span <= 0 {
		c.XTicks = []Tick{{At: round1(x(first)), Label: first.UTC().Format("15:04Z")}}
	} else {
		for i := 0; i <= 4; i++ {
			t := first.Add(span * time.Duration(i) / 4)
			c.XTicks = append(c.XTicks, Tick{At: round1(x(t)), Label: t.UTC().Format("15:04Z")})
		}
	}
	if !began.IsZero() && !began.Before(first) && !began.After(last) {
		c.Markers = append(c.Markers, Marker{X: round1(x(began)), Label: "downtime began"})
	}
	c.Caption = fmt.Sprintf("Pending replication commands from %s to %s (UTC); peak %s at %s.",
		ts(first), ts(last), engine.FormatCount(peak.Pending), ts(peak.At))
	return c
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// niceCeil is the smallest 1, 2 or 5 times a power of ten at or above v (at least 1).
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	exp := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*exp >= v {
			return m * exp
		}
	}
	return 10 * exp
}

// compact renders an axis value: 950, 12.5k, 3.2M.
func compact(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// rate renders a drain rate in commands per second.
func rate(r float64) string {
	s := strconv.FormatFloat(r, 'f', 1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(whole, 10, 64); err == nil {
		whole = engine.FormatCount(n)
		if n == 0 && strings.HasPrefix(s, "-") {
			whole = "-0"
		}
	}
	return whole + "." + frac + "/s"
}
