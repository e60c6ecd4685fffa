package edge

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/wire"
)

// FuzzVoteRequest sends the edge's handler votes with arbitrary paths and
// header values, behind which stand-in collectors accept anything: it must
// not panic, and must answer one of the codes PROTOCOL.md 5.3 allows for a
// vote (or 400 for what is not one).
func FuzzVoteRequest(f *testing.F) {
	e := startEnv(f, 1, nil)
	good := e.ballot(f, e.rightCode(f), "Yes")
	h := good.hdr
	f.Add(good.path, h["Auth-Pkey"], h["Auth-Sig"], h["Auth-Id"], h["P-UTC"], h["P-SIG"], h["Voter"], h["Say"])
	f.Add("/00", h["Auth-Pkey"], h["Auth-Sig"], h["Auth-Id"], h["P-UTC"], h["P-SIG"], h["Voter"], h["Say"])
	f.Add(good.path, h["Auth-Pkey"], "%%%", h["Auth-Id"], "-1", h["P-SIG"], h["Voter"], "%E2%82")
	f.Add(good.path+"0", "", "", "", "", "", "", "")
	f.Add("/"+base64.StdEncoding.EncodeToString([]byte("not hex at all")), h["Auth-Pkey"], h["Auth-Sig"], h["Auth-Id"], h["P-UTC"], h["P-SIG"], h["Voter"], "Z%C3%BCrich")
	allowed := map[int]bool{204: true, 400: true, 503: true}
	for _, c := range wire.Statuses() {
		allowed[c] = true
	}
	f.Fuzz(func(t *testing.T, path, pkey, sig, id, putc, psig, voter, say string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost("solar.example.org")
		for k, v := range map[string]string{"Auth-Pkey": pkey, "Auth-Sig": sig, "Auth-Id": id, "P-UTC": putc, "P-SIG": psig, "Voter": voter, "Say": say} {
			ctx.Request.Header.Set(k, v)
		}
		if p := string(ctx.Request.URI().Path()); p == "/list" || p == "/stamp" {
			return // not votes: answered 200 and 204 by their own rules
		}
		e.srv.Handle(&ctx)
		if sc := ctx.Response.StatusCode(); !allowed[sc] {
			t.Fatalf("GET %q answered %d", path, sc)
		}
		if len(ctx.Response.Body()) != 0 && ctx.Response.StatusCode() != 400 {
			t.Fatalf("GET %q answered %d with a body", path, ctx.Response.StatusCode())
		}
	})
}

// FuzzParseRecords reads arbitrary pages of a collector's vote records: no
// panic, and a page that parses has one record per line, numbered on from
// its first, each a retraction or a vote with a nonce of a valid length
// and a voter stamp of the written length.
func FuzzParseRecords(f *testing.F) {
	good := testVoteLine(1767225600, "c0ffee00c0ffee00")
	f.Add([]byte("1 "+good+"\n2 retract c0ffee00c0ffee00\n"), uint64(1))
	f.Add([]byte("7 "+good+"\n"), uint64(7))
	f.Add([]byte("7 "+good), uint64(7))
	f.Add([]byte("18446744073709551615 "+good+"\n"), uint64(18446744073709551615))
	f.Add([]byte("1 1767225600 x y z \"\n"), uint64(1))
	f.Add([]byte(""), uint64(0))
	f.Fuzz(func(t *testing.T, body []byte, from uint64) {
		recs, err := parseRecords(body, from)
		if err != nil {
			return
		}
		if n := bytes.Count(body, []byte("\n")); len(recs) != n {
			t.Fatalf("%d records from %d lines", len(recs), n)
		}
		for i, r := range recs {
			if r.nonce != nil && (len(r.nonce) < pow.MinNonce || len(r.nonce) > pow.MaxNonce) {
				t.Fatalf("record %d: nonce of %d bytes", i, len(r.nonce))
			}
			if (r.nonce != nil) != (len(r.voter) == stamp.VoterLen) || r.nonce == nil && r.voter != "" {
				t.Fatalf("record %d: nonce %x with voter stamp %q", i, r.nonce, r.voter)
			}
		}
	})
}
