package backoffice

import (
	"net"
	"sync"
	"time"
)

// Lockout is how failed logins lock a name and an address out. Zero
// fields take the defaults named.
type Lockout struct {
	// Free is the number of failures in a row of a name before its first
	// lockout; default 5.
	Free int
	// FreeAddress is the same for a client address, which several
	// operators behind one NAT may share; default 20.
	FreeAddress int
	// First is the first lockout; each further failure doubles it up to
	// Max. Default 30 s.
	First time.Duration
	// Max bounds a lockout, and a failure older than Max is forgotten;
	// default 15 min.
	Max time.Duration
}

func (l Lockout) withDefaults() Lockout {
	if l.Free == 0 {
		l.Free = 5
	}
	if l.FreeAddress == 0 {
		l.FreeAddress = 20
	}
	if l.First == 0 {
		l.First = 30 * time.Second
	}
	if l.Max == 0 {
		l.Max = 15 * time.Minute
	}
	return l
}

// maxStrikes bounds the names and addresses the limiter remembers.
const maxStrikes = 1 << 14

// limiter counts failed logins by name and by address. A name counts
// whether an account has it or not, so that a lockout tells nothing about
// which names exist. Safe for concurrent use.
type limiter struct {
	cfg Lockout
	mu  sync.Mutex
	m   map[string]*strikes // guarded by mu
}

type strikes struct {
	fails int
	last  time.Time // last failure
	until time.Time // locked out before this
}

func newLimiter(cfg Lockout) *limiter {
	return &limiter{cfg: cfg.withDefaults(), m: make(map[string]*strikes)}
}

// nameKey and addrKey are the limiter's keys of a login's name and its
// client address (IPv4, or the /64 of IPv6).
func nameKey(name string) string { return "name " + name }

func addrKey(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return "addr " + v4.String()
	}
	return "addr " + ip.Mask(net.CIDRMask(64, 128)).String()
}

// locked returns how long the longest lockout of keys still lasts; zero
// when none is locked out.
func (l *limiter) locked(now time.Time, keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if s := l.m[k]; s != nil && now.Before(s.until) {
			wait = max(wait, s.until.Sub(now))
		}
	}
	return wait
}

// fail counts a failure against the keys of a name and an address
// (nameKey, addrKey) and returns the lockout it starts, zero if none.
func (l *limiter) fail(now time.Time, name, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= maxStrikes {
		l.pruneLocked(now)
	}
	var lock time.Duration
	for _, k := range []string{name, addr} {
		free := l.cfg.Free
		if k == addr {
			free = l.cfg.FreeAddress
		}
		s := l.m[k]
		if s == nil || now.Sub(s.last) > l.cfg.Max {
			if s == nil && len(l.m) >= maxStrikes {
				continue // full of live lockouts: this key is not remembered
			}
			s = &strikes{}
			l.m[k] = s
		}
		s.fails++
		s.last = now
		if over := s.fails - free; over >= 0 {
			d := l.cfg.Max
			if over < 20 {
				d = min(l.cfg.First<<over, l.cfg.Max)
			}
			s.until = now.Add(d)
			lock = max(lock, d)
		}
	}
	return lock
}

// clear forgets the failures of keys: a login that succeeded.
func (l *limiter) clear(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}

// pruneLocked forgets the failures older than Max and, if that is not
// enough, every count that locks nobody out now: a flood of names or
// addresses may reset counts below Free, never end a lockout. Callers
// hold mu.
func (l *limiter) pruneLocked(now time.Time) {
	for k, s := range l.m {
		if !now.Before(s.until) && now.Sub(s.last) > l.cfg.Max {
			delete(l.m, k)
		}
	}
	if len(l.m) < maxStrikes {
		return
	}
	for k, s := range l.m {
		if !now.Before(s.until) {
			delete(l.m, k)
		}
	}
}
