package backoffice

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// tokenLen is the length of a session token and of a CSRF token: 32
// random bytes in unpadded base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// maxSessionsPerAccount bounds the sessions one account holds: a login
// beyond it ends the account's oldest session.
const maxSessionsPerAccount = 16

func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validToken reports whether tok has the form of a token: a cookie of
// another form is not looked up at all.
func validToken(tok []byte) bool {
	if len(tok) != tokenLen {
		return false
	}
	for _, c := range tok {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// session is one signed-in browser. The store keeps it under the SHA-256
// of its token, never the token: what the map holds does not sign in.
type session struct {
	name    string
	fp      [sha256.Size]byte // the account's hash at sign-in (Account.fingerprint)
	csrf    string
	created time.Time
	seen    time.Time // last request
}

// sessions is the server's session store. Safe for concurrent use.
type sessions struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*session // guarded by mu
}

func newSessions() *sessions {
	return &sessions{m: make(map[[sha256.Size]byte]*session)}
}

func key(tok []byte) [sha256.Size]byte { return sha256.Sum256(tok) }

// create starts a session for the account a and returns its token. It
// ends sessions past their time, and the account's oldest beyond
// maxSessionsPerAccount.
func (ss *sessions) create(a *Account, now time.Time, live func(*session, time.Time) bool) (string, session) {
	tok := newToken()
	s := &session{name: a.Name, fp: a.fingerprint(), csrf: newToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var oldestKey [sha256.Size]byte
	var oldest *session
	n := 0
	for k, o := range ss.m {
		if !live(o, now) {
			delete(ss.m, k)
			continue
		}
		if o.name == a.Name {
			n++
			if oldest == nil || o.created.Before(oldest.created) {
				oldest, oldestKey = o, k
			}
		}
	}
	if n >= maxSessionsPerAccount {
		delete(ss.m, oldestKey)
	}
	ss.m[key([]byte(tok))] = s
	return tok, *s
}

// use finds the session of tok and marks it seen at now. A session that
// valid refuses (expired, account gone) is ended: ok false, ended true.
func (ss *sessions) use(tok []byte, now time.Time, valid func(*session, time.Time) bool) (s session, ok, ended bool) {
	k := key(tok)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p, found := ss.m[k]
	if !found {
		return session{}, false, false
	}
	if !valid(p, now) {
		delete(ss.m, k)
		return session{}, false, true
	}
	p.seen = now
	return *p, true, false
}

// end ends the session of tok, if any.
func (ss *sessions) end(tok []byte) {
	ss.mu.Lock()
	delete(ss.m, key(tok))
	ss.mu.Unlock()
}

// retain ends every session keep refuses.
func (ss *sessions) retain(keep func(*session) bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, s := range ss.m {
		if !keep(s) {
			delete(ss.m, k)
		}
	}
}

// len is the number of sessions held, ended or not.
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}
