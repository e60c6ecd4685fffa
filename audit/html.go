package audit

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"time"
)

// The HTML report is one self-contained file: its style sheet is inline,
// the growth chart is SVG drawn here, and nothing is fetched, so that it
// can be kept, mailed and printed as it is (A4, print CSS). Every text in
// it goes through html/template: the ballot's options and the failures'
// messages come from the lists under audit.

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"utc":   func(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02 15:04:05") },
	"num":   func(x float64) string { return strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64) },
	"minus": func(a, b int) int { return a - b },
}).Parse(reportHTML))

// WriteHTML writes the report as one HTML file for people to keep and
// print: the settings checked against, the tally, the lists' tree heads
// and checkpoints with the keys that signed them, every check with its
// verdict, and the history drawn per minute with each option's largest
// growth against its median. It says the same as WriteText.
func (r *Report) WriteHTML(w io.Writer) error {
	v := htmlReport{Report: r, OK: r.OK(), Failed: r.Failed(), Verdicts: r.verdicts()}
	for _, t := range r.Tally {
		v.Total += t.Votes
	}
	for _, t := range r.Tally {
		share := "–"
		if v.Total > 0 {
			share = strconv.FormatFloat(100*float64(t.Votes)/float64(v.Total), 'f', 1, 64) + " %"
		}
		v.Rows = append(v.Rows, tallyRow{Option: t.Option, Votes: t.Votes, Share: share})
	}
	if r.Work > 0 {
		v.WorkLog = strconv.FormatFloat(math.Log2(r.Work), 'f', 1, 64)
	}
	if r.Logs != nil {
		for _, c := range []struct {
			cp   *Checkpoint
			role string
		}{{r.Logs.Vote, "latest"}, {r.Logs.Auth, "latest"}, {r.Logs.Retracted, "latest"}} {
			if c.cp != nil {
				v.Checkpoints = append(v.Checkpoints, checkpointRow{Checkpoint: c.cp, Role: c.role})
			}
		}
		for i := range r.Logs.Since {
			v.Checkpoints = append(v.Checkpoints, checkpointRow{Checkpoint: &r.Logs.Since[i], Role: "kept by the auditor (--since)"})
		}
		v.Chart = drawChart(r.Logs.Minutes, r.Tally)
	}
	return reportTemplate.Execute(w, v)
}

// htmlReport is what the template shows.
type htmlReport struct {
	*Report
	OK          bool
	Failed      []string
	Verdicts    []verdict
	Total       int
	Rows        []tallyRow
	WorkLog     string // log2 of the work, "" without work
	Checkpoints []checkpointRow
	Chart       *chart // nil without a history
}

type tallyRow struct {
	Option string
	Votes  int
	Share  string
}

type checkpointRow struct {
	*Checkpoint
	Role string
}

// The chart's frame, in SVG user units: a viewBox of chartW by chartH
// whose plot area starts at (plotL, plotT) and is plotW by plotH.
const (
	chartW = 640
	chartH = 300
	plotL  = 64
	plotT  = 12
	plotW  = chartW - plotL - 16
	plotH  = chartH - plotT - 40
)

// chart is the history per minute as SVG. The series' points are the
// history's own values, the time less T0 and the count, both integers;
// Transform maps them onto the plot area, so that the numbers in the
// file are the history's and nothing is rounded.
type chart struct {
	T0        int64 // Unix seconds of the first point
	Span      int64 // seconds the time axis covers: from the first point to the last, at least 60
	Top       int   // the count at the top of the plot
	Transform string
	Series    []series
	YTicks    []tick
	XTicks    []tick
}

type series struct {
	Option string
	Class  string // its colour, s0 to s9
	Points string // "dt,count dt,count ..."
	Dots   string // a path of a dot at each point, when there are few; ""
}

// maxDots is how many points a series may have for each to be marked.
const maxDots = 60

type tick struct {
	At     float64 // SVG user units along its axis
	Label  string
	Anchor string // for x labels: start, middle or end
}

// drawChart lays out the history per minute, one series per option of the
// tally (the ballot, in order); nil when there is nothing to draw.
func drawChart(minutes []HistoryLine, tally []OptionCount) *chart {
	if len(minutes) == 0 || len(tally) == 0 {
		return nil
	}
	c := &chart{T0: minutes[0].Time}
	last := minutes[0].Time
	most := 0
	for _, m := range minutes {
		last = max(last, m.Time)
		for _, n := range m.Counts {
			most = max(most, n)
		}
	}
	// The time axis runs from X0 for Span seconds: from the first point
	// to the last, or the ten minutes around a minute alone.
	x0 := c.T0
	c.Span = max(last-c.T0, 60)
	if last == c.T0 {
		x0, c.Span = c.T0-300, 600
	}
	step := niceStep(most)
	steps := most / step
	if most%step != 0 || steps == 0 {
		steps++
	}
	c.Top = steps * step
	xScale := float64(plotW) / float64(c.Span)
	c.Transform = fmt.Sprintf("translate(%s %d) scale(%s %s)",
		strconv.FormatFloat(plotL+float64(c.T0-x0)*xScale, 'g', -1, 64), plotT+plotH,
		strconv.FormatFloat(xScale, 'g', -1, 64),
		strconv.FormatFloat(-float64(plotH)/float64(c.Top), 'g', -1, 64))
	for k, o := range tally {
		var pts, dots []byte
		for i, m := range minutes {
			if k >= len(m.Counts) {
				break
			}
			if i > 0 {
				pts = append(pts, ' ')
			}
			xy := strconv.AppendInt(nil, m.Time-c.T0, 10)
			xy = append(xy, ',')
			xy = strconv.AppendInt(xy, int64(m.Counts[k]), 10)
			pts = append(pts, xy...)
			// A segment of no length, drawn with round caps: a dot.
			dots = append(append(append(dots, 'M'), xy...), "h0"...)
		}
		s := series{Option: o.Option, Class: "s" + strconv.Itoa(k%10), Points: string(pts)}
		if len(minutes) <= maxDots {
			s.Dots = string(dots)
		}
		c.Series = append(c.Series, s)
	}
	for i := range steps + 1 {
		y := i * step
		at := plotT + plotH - float64(plotH)*float64(y)/float64(c.Top)
		c.YTicks = append(c.YTicks, tick{At: math.Round(at*100) / 100, Label: strconv.Itoa(y)})
	}
	c.XTicks = []tick{
		{At: plotL, Label: time.Unix(x0, 0).UTC().Format("2006-01-02 15:04"), Anchor: "start"},
		{At: plotL + plotW/2, Label: time.Unix(x0+c.Span/2, 0).UTC().Format("15:04"), Anchor: "middle"},
		{At: plotL + plotW, Label: time.Unix(x0+c.Span, 0).UTC().Format("2006-01-02 15:04") + " UTC", Anchor: "end"},
	}
	return c
}

// niceStep is the step of the count axis for counts up to most: 1, 2 or
// 5 times a power of ten, giving at most five steps; most itself for
// counts no election reaches, which the history may claim all the same.
func niceStep(most int) int {
	for p := 1; p <= math.MaxInt/50; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if s := m * p; s*5 >= most {
				return s
			}
		}
	}
	return most
}
