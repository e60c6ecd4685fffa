package mandate

import "rsc.io/qr/coding"

// bestMaskCode encodes seg at version v, level H, with each of the eight
// masks and keeps the code of lowest penalty (ISO/IEC 18004 section 7.8.3),
// as the standard asks: a fixed mask can leave large regular areas, or
// shapes like finder patterns, that make the code hard to find and read.
func bestMaskCode(v coding.Version, seg coding.Encoding) (*coding.Code, error) {
	var best *coding.Code
	bestScore := -1
	for m := coding.Mask(0); m < 8; m++ {
		plan, err := coding.NewPlan(v, coding.H, m)
		if err != nil {
			return nil, err
		}
		c, err := plan.Encode(seg)
		if err != nil {
			return nil, err
		}
		if s := maskPenalty(c); bestScore < 0 || s < bestScore {
			best, bestScore = c, s
		}
	}
	return best, nil
}

// maskPenalty scores a code by the four rules of the standard: runs of five
// or more modules of one colour, 2x2 blocks of one colour, the 1:1:3:1:1
// finder-like pattern next to four light modules, and a dark share away
// from one half.
func maskPenalty(c *coding.Code) int {
	n := c.Size
	at := func(x, y int, transpose bool) bool {
		if transpose {
			return c.Black(y, x)
		}
		return c.Black(x, y)
	}
	score := 0
	for _, tr := range []bool{false, true} {
		for y := 0; y < n; y++ {
			run := 1
			for x := 1; x <= n; x++ {
				if x < n && at(x, y, tr) == at(x-1, y, tr) {
					run++
					continue
				}
				if run >= 5 {
					score += 3 + run - 5
				}
				run = 1
			}
			// Finder-like: dark light dark dark dark light dark, with four
			// light modules (or the edge) before or after.
			for x := 0; x+7 <= n; x++ {
				if !(at(x, y, tr) && !at(x+1, y, tr) && at(x+2, y, tr) && at(x+3, y, tr) &&
					at(x+4, y, tr) && !at(x+5, y, tr) && at(x+6, y, tr)) {
					continue
				}
				if lightSpan(at, x-4, x, y, n, tr) || lightSpan(at, x+7, x+11, y, n, tr) {
					score += 40
				}
			}
		}
	}
	dark := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if c.Black(x, y) {
				dark++
			}
			if x+1 < n && y+1 < n {
				d := c.Black(x, y)
				if c.Black(x+1, y) == d && c.Black(x, y+1) == d && c.Black(x+1, y+1) == d {
					score += 3
				}
			}
		}
	}
	pct := dark * 100 / (n * n)
	dev := pct - 50
	if dev < 0 {
		dev = -dev
	}
	return score + 10*(dev/5)
}

// lightSpan reports whether modules from..to-1 of line y are all light,
// counting modules outside the code (the quiet zone) as light.
func lightSpan(at func(x, y int, tr bool) bool, from, to, y, n int, tr bool) bool {
	for x := from; x < to; x++ {
		if x >= 0 && x < n && at(x, y, tr) {
			return false
		}
	}
	return true
}
