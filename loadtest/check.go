package loadtest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/powvote/powvote/listline"
)

// Sent is a vote of the run as the published lists must show it: its line
// in the votes list, found by its voter stamp, and its mandate's line in
// the voters list, found by auth-pkey and auth-id. The check compares
// whole lines, so a vote published under another option, nonce, P-UTC or
// P-SIG, or a mandate published with another auth-sig, is not the vote
// that was sent.
type Sent struct {
	Vote  listline.Vote
	Voter listline.Voter
}

// ListCheck is the verdict on the published lists.
type ListCheck struct {
	VoteLines, AuthLines int
	LengthsEqual         bool
	Malformed            int // lines that do not parse

	Acknowledged int
	// PublishedOnce counts the acknowledged votes whose vote line and
	// voter line each stand exactly once in their list, byte for byte as
	// sent.
	PublishedOnce int
	// Altered counts the votes of the run, acknowledged or not, whose
	// voter stamp or mandate stands in a list on a line other than the
	// one sent; FirstAltered describes the first of them.
	Altered      int
	FirstAltered string
	Missing      int // acknowledged votes, not altered, whose vote line or voter line is absent
	Lost         int // Missing, when more than the allowance given to CheckLists
	// PendingBatch is Missing when it fits in the allowance: votes the
	// publisher may still be keeping back for a batch that the run did not
	// fill. They are not published, and the verdict fails all the same:
	// the lists did not settle, so the run shows no zero loss.
	PendingBatch int

	DupStamps, DupNonces, DupMandates int // lines whose stamp, nonce or mandate stood earlier
	Duplicated                        int // their sum

	// PublishedUnacked counts the unacknowledged votes of the run (given
	// to CheckLists) whose vote line stands in the votes list as sent:
	// their answer was lost or came too late, but the platform took them,
	// which is allowed.
	PublishedUnacked int
}

// Problems lists what makes the check fail; none means zero loss.
func (c ListCheck) Problems() []string {
	var p []string
	if c.Lost > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged votes are not published", c.Lost))
	}
	if c.PendingBatch > 0 {
		p = append(p, fmt.Sprintf("%d acknowledged votes are not published, no more than the publisher keeps back for a batch: the run did not fill that batch (fillers off, or not all acknowledged), so the lists did not settle and zero loss is not shown", c.PendingBatch))
	}
	if c.Altered > 0 {
		p = append(p, fmt.Sprintf("%d votes of the run are published otherwise than they were sent, first: %s", c.Altered, c.FirstAltered))
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

// keyedLines holds the published lines of a list that carry one key: a
// voter stamp in the votes list, a mandate in the voters list. They are
// slices of the list itself.
type keyedLines struct {
	first []byte
	more  [][]byte // further lines with the key: duplicates
}

func (p *keyedLines) add(line []byte) {
	if p.first == nil {
		p.first = line
		return
	}
	p.more = append(p.more, line)
}

// match compares the lines that carry the key with the line sent: n is how
// many there are, differs the first that is not the line sent, or nil.
func (p *keyedLines) match(sent []byte) (n int, differs []byte) {
	if p.first == nil {
		return 0, nil
	}
	if !bytes.Equal(p.first, sent) {
		differs = p.first
	}
	for _, l := range p.more {
		if differs == nil && !bytes.Equal(l, sent) {
			differs = l
		}
	}
	return 1 + len(p.more), differs
}

// CheckLists checks the published lists against the votes of the run.
// voteLog and authLog are whole lists; a last line without its line feed
// is not counted (it is still being written, or was cut).
//
// An acknowledged vote counts as published once when its vote line stands
// exactly once in the votes list and its mandate's line exactly once in
// the voters list, each byte for byte as sent (listline writes the one
// spelling of each). A vote of the run whose voter stamp or mandate stands
// on any other line is altered, which no rule of the publisher explains.
// An acknowledged vote whose line is absent from either list is missing,
// and a missing vote always fails the check: when at most allowance are
// missing they are reported as PendingBatch (the publisher keeps some
// back until the close, heldBack, and the run did not fill its last
// batch), otherwise as Lost.
//
// unacked are the run's votes that got no 2xx: they need not be
// published, but when their voter stamp or mandate is, it must be on the
// line sent.
func CheckLists(voteLog, authLog []byte, acked, unacked []Sent, allowance int) ListCheck {
	var c ListCheck
	stamps := make(map[string]keyedLines, len(acked))
	nonces := make(map[string]struct{})
	eachLine(voteLog, func(line []byte) {
		c.VoteLines++
		v, err := listline.ParseVote(string(line))
		if err != nil {
			c.Malformed++
			return
		}
		k := v.Voter
		p, dup := stamps[k]
		if dup {
			c.DupStamps++
		} else {
			k = strings.Clone(k) // so that the key does not keep the whole line
		}
		p.add(line)
		stamps[k] = p
		if _, dup := nonces[string(v.Nonce)]; dup {
			c.DupNonces++
		}
		nonces[string(v.Nonce)] = struct{}{}
	})
	mandates := make(map[listline.Mandate]keyedLines, len(acked))
	eachLine(authLog, func(line []byte) {
		c.AuthLines++
		v, err := listline.ParseVoter(string(line))
		if err != nil {
			c.Malformed++
			return
		}
		k := v.Mandate()
		p, dup := mandates[k]
		if dup {
			c.DupMandates++
		}
		p.add(line)
		mandates[k] = p
	})
	c.LengthsEqual = c.VoteLines == c.AuthLines
	c.Duplicated = c.DupStamps + c.DupNonces + c.DupMandates
	c.Acknowledged = len(acked)

	var voteBuf, voterBuf []byte
	// look finds s in the lists: how many times its vote line and its
	// voter line stand there, and whether either list holds its key on
	// another line, which it counts as altered.
	look := func(s *Sent) (votes, voters int, altered bool) {
		voteBuf = s.Vote.AppendLine(voteBuf[:0])
		voterBuf = s.Voter.AppendLine(voterBuf[:0])
		var vd, md []byte
		p := stamps[s.Vote.Voter]
		votes, vd = p.match(voteBuf)
		p = mandates[s.Voter.Mandate()]
		voters, md = p.match(voterBuf)
		if vd == nil && md == nil {
			return votes, voters, false
		}
		c.Altered++
		if c.FirstAltered == "" {
			if vd != nil {
				c.FirstAltered = fmt.Sprintf("the votes list holds %q where the run sent %q", vd, voteBuf)
			} else {
				c.FirstAltered = fmt.Sprintf("the voters list holds %q where the run sent %q", md, voterBuf)
			}
		}
		return votes, voters, true
	}
	for i := range acked {
		votes, voters, altered := look(&acked[i])
		if altered {
			continue // counted by look: neither missing nor published
		}
		switch {
		case votes == 0 || voters == 0:
			c.Missing++
		case votes == 1 && voters == 1:
			c.PublishedOnce++
		}
	}
	for i := range unacked {
		if votes, _, altered := look(&unacked[i]); votes > 0 && !altered {
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

// pendingAllowance is how many missing acknowledged votes CheckLists
// reports as pending a batch rather than lost: none when the run sent
// fillers and every one was acknowledged, since they fill the publisher's
// last batch and every acknowledged vote must then be published; what the
// publisher may keep back otherwise (heldBack). Either way a missing vote
// fails the check; the allowance only says what the report calls it.
func pendingAllowance(batch, fillers, fillersAcked int) int {
	if fillers > 0 && fillersAcked == fillers {
		return 0
	}
	return heldBack(batch)
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
