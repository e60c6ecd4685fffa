package loadtest

import (
	"bytes"
	"fmt"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/mandate"
)

// mandateKey identifies a mandate: auth-pkey and auth-id.
type mandateKey [32 + mandate.IDSize]byte

func keyOf(t *mandate.Token) mandateKey {
	var k mandateKey
	copy(k[:], t.AuthPkey[:])
	copy(k[32:], t.AuthID[:])
	return k
}

// Acked is an acknowledged vote as the zero-loss check needs it.
type Acked struct {
	Voter   string     // the voter stamp
	Mandate mandateKey // auth-pkey || auth-id
}

// ListCheck is the verdict on the published lists.
type ListCheck struct {
	VoteLines, AuthLines int
	LengthsEqual         bool
	Malformed            int // lines that do not parse

	Acknowledged  int
	PublishedOnce int // acknowledged stamps found exactly once
	Missing       int // acknowledged votes whose stamp or mandate is absent
	Lost          int // Missing, unless they fit in PendingBatch
	PendingBatch  int // Missing when fewer than the allowance

	DupStamps, DupNonces, DupMandates int // lines whose stamp, nonce or mandate stood earlier
	Duplicated                        int // their sum

	// PublishedUnacked counts the unacknowledged votes of the run (given
	// to CheckLists) found in the votes list: their answer was lost or
	// came too late, but the platform took them, which is allowed.
	PublishedUnacked int
}

// Problems lists what makes the check fail; none means zero loss.
func (c ListCheck) Problems() []string {
	var p []string
	if c.Lost > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged votes are not published", c.Lost))
	}
	if c.Duplicated > 0 {
		p = append(p, fmt.Sprintf("duplicates in the lists: %d stamps, %d nonces, %d mandates", c.DupStamps, c.DupNonces, c.DupMandates))
	}
	if !c.LengthsEqual {
		p = append(p, fmt.Sprintf("the votes list has %d lines, the voters list %d", c.VoteLines, c.AuthLines))
	}
	if c.Malformed > 0 {
		p = append(p, fmt.Sprintf("%d list lines do not parse", c.Malformed))
	}
	return p
}

// CheckLists checks the published lists against the acknowledged votes.
// voteLog and authLog are whole lists; a last line without its line feed
// is not counted (it is still being written, or was cut). A vote counts as
// published when its voter stamp is in the votes list and its mandate in
// the voters list. When at most allowance acknowledged votes are missing,
// they are reported as PendingBatch rather than lost: the publisher keeps
// some back until the close (heldBack). More than that are all lost,
// since no rule of the publisher explains them.
//
// unacked are the voter stamps of the run's votes that got no 2xx; they
// are only counted.
func CheckLists(voteLog, authLog []byte, acked []Acked, unacked []string, allowance int) ListCheck {
	var c ListCheck
	stamps := make(map[string]int, len(acked))
	nonces := make(map[string]struct{})
	eachLine(voteLog, func(line []byte) {
		c.VoteLines++
		v, err := listline.ParseVote(string(line))
		if err != nil {
			c.Malformed++
			return
		}
		stamps[v.Voter]++
		if stamps[v.Voter] > 1 {
			c.DupStamps++
		}
		if _, dup := nonces[string(v.Nonce)]; dup {
			c.DupNonces++
		}
		nonces[string(v.Nonce)] = struct{}{}
	})
	mandates := make(map[mandateKey]struct{})
	eachLine(authLog, func(line []byte) {
		c.AuthLines++
		v, err := listline.ParseVoter(string(line))
		if err != nil {
			c.Malformed++
			return
		}
		k := mandateKey(v.Mandate())
		if _, dup := mandates[k]; dup {
			c.DupMandates++
		}
		mandates[k] = struct{}{}
	})
	c.LengthsEqual = c.VoteLines == c.AuthLines
	c.Duplicated = c.DupStamps + c.DupNonces + c.DupMandates
	c.Acknowledged = len(acked)
	for _, a := range acked {
		n := stamps[a.Voter]
		_, voter := mandates[a.Mandate]
		if n == 1 {
			c.PublishedOnce++
		}
		if n == 0 || !voter {
			c.Missing++
		}
	}
	for _, u := range unacked {
		if stamps[u] > 0 {
			c.PublishedUnacked++
		}
	}
	if c.Missing <= allowance {
		c.PendingBatch = c.Missing
	} else {
		c.Lost = c.Missing
	}
	return c
}

// eachLine calls f for every complete line of b.
func eachLine(b []byte, f func([]byte)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return
		}
		f(b[:i])
		b = b[i+1:]
	}
}
