package edge

import (
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// A receipt shows the voter's stamp against the chosen option and a decoy
// stamp, a recent vote's, against every other, so that the receipt does
// not say which line is the voter's (PROTOCOL.md 5.4). Were the decoys
// drawn by the collector, from its own pair's votes, every receipt would
// be a set of stamps of one pair: many published receipts would sort the
// votes list into pairs, and the voters list tells each mandate's pair,
// so a known voter's vote would hide among the votes of one pair instead
// of all. The edge reads every collector's records (tail.go) and draws the
// decoys from the votes of every pair; both instances of the pair get the
// same ones in the Decoys header, and keep them with the vote.

// decoyKeep is how many recent stamps the pool keeps per option.
const decoyKeep = 256

// decoyAge is how long after the edge read a vote's record its stamp may
// stand as a decoy: by then every edge process has read it (each reads
// every instance once a second) and refuses the stamp for any other vote.
// It mirrors the default of collector.Config.DecoyAge.
const decoyAge = 3 * time.Second

// decoyPool keeps, per option of a campaign, the voter stamps of the
// latest votes read from any collector. Safe for concurrent use.
type decoyPool struct {
	options map[string]int // option -> ballot index
	n       int            // options on the ballot
	age     time.Duration

	mu     sync.Mutex
	recent [][]decoyStamp // per option, oldest first, at most decoyKeep
}

type decoyStamp struct {
	stamp string
	at    time.Time // when the edge read its record
}

func newDecoyPool(options []string, age time.Duration) *decoyPool {
	p := &decoyPool{options: make(map[string]int, len(options)), n: len(options), age: age, recent: make([][]decoyStamp, len(options))}
	for i, o := range options {
		p.options[o] = i
	}
	return p
}

// add notes the stamp of a vote for option, read at now.
func (p *decoyPool) add(option, stamp string, now time.Time) {
	i, ok := p.options[option]
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.recent[i]
	if n := len(l); n > 0 && l[n-1].at.After(now) {
		// Tailers of several collectors add with the time they started
		// their read: keep the times in order, which draw relies on, by
		// taking the later one (a stamp only ripens later).
		now = l[n-1].at
	}
	if len(l) == decoyKeep {
		l = append(l[:0], l[1:]...)
	}
	p.recent[i] = append(l, decoyStamp{stamp, now})
}

// draw returns the decoys of a receipt for a vote for option chosen with
// voter stamp own, in the form of the collectors' Decoys header: for each
// option in ballot order, "*" for the chosen one, otherwise a random stamp
// read at least age before now, or "-" when there is none; separated by
// commas.
func (p *decoyPool) draw(chosen int, own string, now time.Time) string {
	var b strings.Builder
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == chosen {
			b.WriteByte('*')
			continue
		}
		// The stamps are in the order read: the ripe ones are a prefix.
		l := p.recent[i]
		k := sort.Search(len(l), func(j int) bool { return l[j].at.Add(p.age).After(now) })
		r := rand.IntN(max(k, 1))
		if k > 0 && l[r].stamp == own {
			// Any other ripe stamp, each as likely.
			if k == 1 {
				k = 0
			} else if r2 := rand.IntN(k - 1); r2 >= r {
				r = r2 + 1
			} else {
				r = r2
			}
		}
		if k == 0 {
			b.WriteByte('-')
			continue
		}
		b.WriteString(l[r].stamp)
	}
	return b.String()
}

// index returns the ballot index of option, or -1.
func (p *decoyPool) index(option string) int {
	if i, ok := p.options[option]; ok {
		return i
	}
	return -1
}
