package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line bar on w for long jobs. It redraws at most every
// 100 ms so that a fast loop does not spend its time printing.
type progress struct {
	mu    sync.Mutex // guards the fields below and writes to w
	w     io.Writer
	label string
	total int
	done  int
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total, start: time.Now()}
}

// add records n more items done; safe for concurrent use.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || p.done == p.total {
		p.last = now
		p.drawLocked()
	}
}

func (p *progress) drawLocked() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	n := int(frac * width)
	eta := ""
	if el := time.Since(p.start); p.done > 0 && p.done < p.total {
		left := time.Duration(float64(el) / float64(p.done) * float64(p.total-p.done))
		eta = " eta " + left.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %3.0f%%%s   ", p.label, strings.Repeat("#", n), strings.Repeat(" ", width-n), p.done, p.total, frac*100, eta)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLocked()
	fmt.Fprintln(p.w)
}
