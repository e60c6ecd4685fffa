package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/wire"
)

// The retracted list (docs/PUBLISHING.md, package listline) explains the
// votes a collecting instance withdrew by mirror rule 3: each line is a
// retracted vote, the nonce of the vote that won for the same mandate and
// the receipt key's signature that binds the two (wire.RetractionMessage).
// A retraction is evidence, not a claim: the audit checks each line as it
// checks a vote, and checks the binding against the votes list.
//
// The list is read before the votes list, and the publisher appends a
// retraction only once its winner is published, so every winner of a
// line read stands in the votes list read after it.

// retraction is one line of the retracted list, as read.
type retraction struct {
	line int  // 1-based
	ok   bool // well formed: r is set
	r    listline.Retracted
	key  nonceKey // of the retracted vote
	win  nonceKey // of the winner
}

// winnerRef is where a winner named by the retracted list stands in the
// votes list, found while the votes list is merged.
type winnerRef struct {
	line int    // 1-based; 0 while not found
	text string // the vote line
}

// retractedState is the retracted list, read once before the lists.
type retractedState struct {
	campaign string
	name     string
	lines    []retraction
	winners  map[nonceKey]*winnerRef // the winners the lines name
	list     *list                   // its tree and its failures, as for the lists
}

// readRetracted reads and parses the retracted list, and builds its tree.
// A source that does not have the list gets its checks skipped.
func readRetracted(src Source, campaign string) (*retractedState, error) {
	rs := &retractedState{
		campaign: campaign,
		name:     published.LogName(campaign, published.Retracted),
		winners:  make(map[nonceKey]*winnerRef),
	}
	rs.list = &list{kind: retractedList, name: rs.name, tailFrom: -1}
	data, err := readOptional(src, rs.name)
	if err != nil {
		return nil, err
	}
	if data == nil {
		rs.list.absent = true
		return rs, nil
	}
	text := string(data)
	l := rs.list
	for ln := 1; text != ""; ln++ {
		line, rest, found := strings.Cut(text, "\n")
		text = rest
		l.lines++
		h := tlog.RecordHash([]byte(line))
		l.all = append(l.all, h)
		l.tree.push(h)
		rec := retraction{line: ln}
		rl, err := listline.ParseRetracted(line)
		switch {
		case !found:
			l.record(CheckRetractedFormat, ln, "the last line has no line feed")
		case err == nil:
			rec.ok, rec.r = true, rl
			rec.key, rec.win = keyOfNonce(rl.Vote.Nonce), keyOfNonce(rl.Winner)
			if rs.winners[rec.win] == nil {
				rs.winners[rec.win] = &winnerRef{}
			}
		default:
			msg := err.Error()
			if _, verr := listline.ParseVote(line); verr == nil {
				msg = "a vote line bound to no winner (written before retractions were signed): it explains nothing"
			}
			l.record(CheckRetractedFormat, ln, msg)
		}
		rs.lines = append(rs.lines, rec)
	}
	return rs, nil
}

func keyOfNonce(nonce []byte) nonceKey {
	var k nonceKey
	k[0] = byte(len(nonce))
	copy(k[1:], nonce)
	return k
}

// receiptKey settles the receipt public key that signs the bindings: the
// one given, else the one the source serves (published.ReceiptKeyName), else the
// one its keys file gives after the close. It says where the key came
// from, or why there is none.
func receiptKey(src Source, campaign string, given ed25519.PublicKey, keys *Keys) (ed25519.PublicKey, string, error) {
	if given != nil {
		if len(given) != ed25519.PublicKeySize {
			return nil, "", fmt.Errorf("audit: the receipt key given is %d bytes, want %d", len(given), ed25519.PublicKeySize)
		}
		return given, "given", nil
	}
	name := published.ReceiptKeyName(campaign)
	data, err := readKeysFile(src, name)
	if err != nil {
		return nil, "", err
	}
	if data != nil {
		k, err := ParseStampKey(string(data))
		if err != nil {
			return nil, name, fmt.Errorf("%s: %v", name, err)
		}
		return k, name, nil
	}
	if keys != nil && keys.Receipt != nil {
		return keys.Receipt, published.KeysName(campaign), nil
	}
	return nil, "", nil
}

// checkRetractions checks every well-formed line of the retracted list
// once the votes list is merged: the retracted vote as a vote (proof of
// work, option, stamp time, platform stamp), that it is published nowhere,
// that its winner is in the votes list (within its signed part, signed
// lines; -1 for all) and beats it by mirror rule 3, that no winner
// explains two retractions, and the binding's signature under key (nil:
// not checked; verdicts says why).
func (a *auditor) checkRetractions(rs *retractedState, votes *list, signed int64, key ed25519.PublicKey) {
	l := rs.list
	seenNonce := make(map[nonceKey]int)
	seenStamp := make(map[stampKey]int)
	seenWinner := make(map[nonceKey]int)
	for _, rec := range rs.lines {
		if !rec.ok {
			continue
		}
		ln, v := rec.line, rec.r.Vote
		fail := func(check, msg string) { l.failure(check, l.name, ln, msg) }
		a.voteChecks(v, false, fail)
		stamp := packStamp(v.Voter)
		if prev, dup := seenNonce[rec.key]; dup {
			fail(CheckRetractionLoser, fmt.Sprintf("the retracted vote of line %d again", prev))
		} else {
			seenNonce[rec.key] = ln
		}
		if prev, dup := seenStamp[stamp]; dup {
			fail(CheckRetractionLoser, fmt.Sprintf("the voter stamp of line %d again", prev))
		} else {
			seenStamp[stamp] = ln
		}
		if at, ok := votes.nonces[rec.key]; ok {
			fail(CheckRetractionLoser, fmt.Sprintf("the retracted vote's nonce stands on line %d of %s: a retracted vote is counted", at, votes.name))
		}
		w := rs.winners[rec.win]
		// The retracted vote may carry its winner's stamp (one holder,
		// one stamp, two votes during a split); no other vote's.
		if at, ok := votes.stamps[stamp]; ok && at != w.line {
			fail(CheckRetractionLoser, fmt.Sprintf("the retracted vote's voter stamp stands on line %d of %s, which is not its winner", at, votes.name))
		}
		if prev, dup := seenWinner[rec.win]; dup {
			fail(CheckRetractionWinner, fmt.Sprintf("the winner of line %d again: a vote wins over one retracted vote of its mandate at most", prev))
		} else {
			seenWinner[rec.win] = ln
		}
		winner := hex.EncodeToString(rec.r.Winner)
		switch {
		case w.line == 0:
			fail(CheckRetractionWinner, fmt.Sprintf("the winner %s is not in %s", winner, votes.name))
			continue
		case signed >= 0 && int64(w.line) > signed:
			fail(CheckRetractionWinner, fmt.Sprintf("the winner %s stands on line %d of %s, beyond its signed checkpoint", winner, w.line, votes.name))
		}
		wv, err := listline.ParseVote(w.text) // merged as well formed
		if err == nil && !listline.Wins(wv, v) {
			fail(CheckRetractionWinner, fmt.Sprintf("the winner %s on line %d of %s does not beat the retracted vote by mirror rule 3 (P-UTC %s against %s, then nonce, stamp, line)",
				winner, w.line, votes.name, wv.PUTC, v.PUTC))
		}
		if key != nil {
			if err := wire.VerifyRetraction(key, a.settings.Name, v.Line(), w.text, rec.r.Sig[:]); err != nil {
				fail(CheckRetractionSignature, fmt.Sprintf("the signature does not bind the retracted vote to the winner on line %d of %s under the receipt key", w.line, votes.name))
			}
		}
	}
}

// verdicts notes, once the lines are checked, what could not be: the
// whole list when the source does not publish it, the signatures when no
// receipt key is at hand (a failure under strict, when there is a binding
// to check) or the one served is malformed (a failure). It returns the
// checks skipped, and why.
func (rs *retractedState) verdicts(haveKey bool, keyFrom string, keyErr error, strict bool) []Skip {
	if rs.list.absent {
		reason := rs.name + " is not published"
		return []Skip{{CheckRetractedFormat, reason}, {CheckRetractionLoser, reason}, {CheckRetractionWinner, reason}, {CheckRetractionSignature, reason}}
	}
	switch {
	case keyErr != nil:
		rs.list.failure(CheckRetractionSignature, keyFrom, 0, keyErr.Error())
	case haveKey:
	case !slices.ContainsFunc(rs.lines, func(r retraction) bool { return r.ok }):
		// Nothing to verify.
	case strict:
		rs.list.failure(CheckRetractionSignature, rs.name, 0, "no receipt key: the bindings of the retracted votes to their winners are not checked; give --receipt-pubkey")
	default:
		return []Skip{{CheckRetractionSignature, "no receipt key: none was given, and the source serves neither " + published.ReceiptKeyName(rs.campaign) + " nor a keys file"}}
	}
	return nil
}

// voteChecks makes the checks of one well-formed vote that need nothing
// but the vote and the settings: option, stamp time, proof of work and,
// with the key, the platform stamp (unless genuine says it was verified
// already). It returns the vote's score.
func (a *auditor) voteChecks(v listline.Vote, genuine bool, fail func(check, msg string)) (option, score int) {
	option = -1
	if o, ok := a.options[v.Option]; ok {
		option = o
	} else {
		fail(CheckOption, fmt.Sprintf("%q is not on the ballot", v.Option))
	}
	// The parser accepted P-UTC, so it reads without error.
	if t, _ := stampTime(v.PUTC); t < a.start || t > a.end {
		fail(CheckStampTime, fmt.Sprintf("P-UTC %s is outside the campaign (%d to %d)", v.PUTC, a.start, a.end))
	}
	score = voteScore(v)
	if score < a.settings.Threshold {
		fail(CheckProofOfWork, fmt.Sprintf("score %d, threshold %d", score, a.settings.Threshold))
	}
	if sc := a.stamps; sc != nil && sc.utcSign != nil && !genuine {
		if verdict := sc.check(v.PUTC, &v.PSig); verdict != stampGenuine {
			fail(CheckPlatformStamp, sc.message(verdict, v.PUTC))
		}
	}
	return option, score
}

// keyText is a public key as reports show it.
func keyText(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }
