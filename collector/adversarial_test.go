package collector_test

import (
	"bufio"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
)

// Adversarial tests of a collecting instance: requests that do not come
// from the edge, and requests that try to wear its limits out. TestPass
// covers the plain wrong and missing pass secrets; these add the ways a
// stranger might smuggle one past the check, check that the comparison is
// constant-time, and that the server's limits hold.

// TestPassComparedInConstantTime reads the source of the collector and of
// package mtls, which checks the Pass header of plain-HTTP links for it: the
// header must be compared with subtle.ConstantTimeCompare, and a token must
// never be an operand of ==, != or a comparison function that stops at the
// first difference. A timing test over loopback could not see the
// difference between those for a 43-byte value; this one fails as soon as
// someone writes bytes.Equal(pass, []byte(tok)).
func TestPassComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, dir := range []string{".", "../internal/mtls"} {
		files = append(files, parseDir(t, fset, dir)...)
	}
	// isPass reports whether e is a token (pass, tok, s.pass) or the Pass
	// header as received (Peek("Pass")), or either converted.
	var isPass func(e ast.Expr) bool
	isPass = func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.ParenExpr:
			return isPass(x.X)
		case *ast.Ident:
			return x.Name == "pass" || x.Name == "tok"
		case *ast.SelectorExpr:
			return x.Sel.Name == "pass"
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Peek" && len(x.Args) == 1 {
				lit, ok := x.Args[0].(*ast.BasicLit)
				return ok && lit.Value == `"Pass"`
			}
			if len(x.Args) == 1 {
				switch f := x.Fun.(type) {
				case *ast.Ident:
					return f.Name == "string" && isPass(x.Args[0])
				case *ast.ArrayType:
					return isPass(x.Args[0])
				}
			}
		}
		return false
	}
	checkConstantTime(t, fset, files, isPass)
}

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, de := range entries {
		if n := de.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	return files
}

// checkConstantTime fails t unless files compare what isPass matches only
// with subtle.ConstantTimeCompare, at least once.
func checkConstantTime(t *testing.T, fset *token.FileSet, files []*ast.File, isPass func(ast.Expr) bool) {
	t.Helper()
	constantTime := 0
	for _, f := range files {
		{
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.BinaryExpr:
					if (x.Op == token.EQL || x.Op == token.NEQ) && (isPass(x.X) || isPass(x.Y)) {
						t.Errorf("%s: the pass secret compared with %s", fset.Position(x.Pos()), x.Op)
					}
				case *ast.CallExpr:
					sel, ok := x.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					pkgName := ""
					if id, ok := sel.X.(*ast.Ident); ok {
						pkgName = id.Name
					}
					touches := false
					for _, a := range x.Args {
						if isPass(a) {
							touches = true
						}
					}
					if !touches {
						return true
					}
					switch {
					case pkgName == "subtle" && sel.Sel.Name == "ConstantTimeCompare":
						constantTime++
					case strings.Contains(sel.Sel.Name, "Equal") || sel.Sel.Name == "Compare" || sel.Sel.Name == "HasPrefix":
						t.Errorf("%s: the pass secret compared with %s.%s, which stops at the first difference", fset.Position(x.Pos()), pkgName, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if constantTime == 0 {
		t.Error("no subtle.ConstantTimeCompare of the Pass header in the source")
	}
}

// TestPassSmuggled: a stranger who does not know the pass secret tries to
// get past the check some other way. Every endpoint answers 401 with an
// empty body, nothing is recorded, and nothing the stranger sent or the
// secret itself shows up in the log.
func TestPassSmuggled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	right := e.pass()
	otherPass := mtls.NewPlain("solar").Link(string(campaign.RoleEdge), mtls.AnyInstance).Pass()
	b := e.newBallot(t, testOptions[0])
	endpoints := []struct {
		method, path string
		hdr          map[string]string
	}{
		{http.MethodPost, "/vote", b.headers("")},
		{http.MethodGet, "/stamp", nil},
		{http.MethodGet, "/health", nil},
		{http.MethodGet, "/sync?after=0&limit=10", map[string]string{"Last-Seq": "0"}},
		{http.MethodGet, "/records/votes?from=1&limit=10", nil},
		{http.MethodGet, "/records/voters?after=&limit=10", nil},
	}
	for _, tc := range []struct {
		name  string
		query string            // appended to the path
		extra []string          // raw header lines
		hdr   map[string]string // more headers
	}{
		{name: "another campaign's pass", hdr: map[string]string{"Pass": otherPass}},
		{name: "pass with a character more", hdr: map[string]string{"Pass": right + "A"}},
		{name: "pass twice over", hdr: map[string]string{"Pass": right + right}},
		// The right pass in the standard alphabet; when its URL-safe form
		// has no '-' or '_' the two are the same, and the case is the
		// right pass with a character more.
		{name: "pass in standard base64", hdr: map[string]string{"Pass": stdOrLonger(right)}},
		{name: "pass with padding", hdr: map[string]string{"Pass": right + "="}},
		{name: "pass in the query", query: "Pass=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(right)},
		{name: "pass as a bearer token", hdr: map[string]string{"Authorization": "Bearer " + right}},
		{name: "pass as a cookie", hdr: map[string]string{"Cookie": "Pass=" + right}},
		{name: "pass under another header", hdr: map[string]string{"X-Pass": right, "Pass-Secret": right}},
		{name: "wrong pass first, right pass second", extra: []string{"Pass: " + otherPass, "Pass: " + right}},
		{name: "empty pass first, right pass second", extra: []string{"Pass: ", "Pass: " + right}},
	} {
		for _, ep := range endpoints {
			t.Run(tc.name+" "+ep.path, func(t *testing.T) {
				path := ep.path
				if tc.query != "" {
					sep := "?"
					if strings.Contains(path, "?") {
						sep = "&"
					}
					path += sep + tc.query
				}
				var lines []string
				for k, v := range ep.hdr {
					if k != "Pass" {
						lines = append(lines, k+": "+v)
					}
				}
				for k, v := range tc.hdr {
					lines = append(lines, k+": "+v)
				}
				lines = append(lines, tc.extra...)
				code, body, err := rawRequest(in.addr, ep.method+" "+path+" HTTP/1.1\r\nHost: c\r\nConnection: close\r\n"+strings.Join(lines, "\r\n")+"\r\n\r\n")
				if err != nil {
					t.Fatal(err)
				}
				if code != http.StatusUnauthorized || body != "" {
					t.Errorf("status %d body %q, want 401 and empty", code, body)
				}
			})
		}
	}
	checkCounts(t, in, 0, 0)
	logs := e.logs.String()
	for _, s := range []string{right, otherPass} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a pass value: %q", s)
		}
	}
	// The control: the same vote with the pass is taken.
	e.mustVote(t, in, b)
}

// stdOrLonger is a URL-safe base64 token in the standard alphabet when that
// differs, and the token with one more character otherwise.
func stdOrLonger(tok string) string {
	std := strings.NewReplacer("-", "+", "_", "/").Replace(tok)
	if std == tok {
		return tok + "A"
	}
	return std
}

// rawRequest sends request on a fresh connection to addr and returns the
// status and body of the answer; status 0 means the collector closed the
// connection without answering.
func rawRequest(addr, request string) (int, string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, request) // an early close still leaves the answer to read
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, "", err
		}
		return 0, "", nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// TestCollectorLimits: the collector's own server limits, which guard it if
// the edge or the private network misbehave. Each fails if its setting is
// not applied: fasthttp's defaults would take a 20 KiB header, a 5000-byte
// body, keep a slow connection open for ever and serve any number of
// connections.
func TestCollectorLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const (
		readTimeout = time.Second
		maxConns    = 6
	)
	cfg := e.config(t.TempDir())
	cfg.ReadTimeout = readTimeout
	cfg.MaxConns = maxConns
	in := e.start(t, cfg)
	e.healthy(t, in)
	e.client.CloseIdleConnections() // free the slot the health check held
	health := "GET /health HTTP/1.1\r\nHost: c\r\nConnection: close\r\nPass: " + e.pass() + "\r\n"
	for _, tc := range []struct {
		name string
		req  string
		want int
	}{
		{"the control", health + "\r\n", http.StatusNoContent},
		{"headers of 20 KiB", health + "X-Pad: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"body of 5000 bytes", health + "Content-Length: 5000\r\n\r\n" + strings.Repeat("a", 5000), http.StatusBadRequest},
		{"body of 5000 bytes without the pass", "POST /vote HTTP/1.1\r\nHost: c\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("a", 5000), http.StatusBadRequest},
	} {
		code, _, err := rawRequest(in.addr, tc.req)
		if err != nil || code != tc.want {
			t.Errorf("%s: status %d (%v), want %d", tc.name, code, err, tc.want)
		}
	}

	// Connections that never finish their headers fill every slot. One
	// connection more is refused at once with 503 (which one depends on
	// when the server let go of the connections above, so the test counts
	// refusals among all of them); the others are cut after ReadTimeout,
	// after which the edge is served again.
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	type outcome struct {
		after time.Duration
		got   string
	}
	slow := make([]outcome, maxConns)
	for i := range maxConns {
		conn, err := net.Dial("tcp", in.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: c\r\nPass: ")
		wg.Go(func() {
			conn.SetReadDeadline(start.Add(10 * time.Second))
			b, _ := io.ReadAll(conn)
			slow[i] = outcome{time.Since(start), string(b)}
		})
	}
	time.Sleep(100 * time.Millisecond)
	probe, _, err := rawRequest(in.addr, health+"\r\n")
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	refused := 0
	if probe == http.StatusServiceUnavailable {
		refused++
	}
	for i, o := range slow {
		switch {
		case strings.HasPrefix(o.got, "HTTP/1.1 503") && o.after < readTimeout/2:
			refused++
		case strings.HasPrefix(o.got, "HTTP/1.1 2"):
			t.Errorf("slow connection %d answered %q", i, o.got)
		case o.after < readTimeout-100*time.Millisecond || o.after > readTimeout+3*time.Second:
			t.Errorf("slow connection %d cut after %v, want about %v", i, o.after, readTimeout)
		}
	}
	if refused == 0 {
		t.Errorf("%d connections at once, none refused: MaxConns %d not applied", maxConns+1, maxConns)
	}
	if code, _, err := rawRequest(in.addr, health+"\r\n"); code != http.StatusNoContent {
		t.Errorf("after the slow connections were cut: status %d (%v), want 204", code, err)
	}
}

// TestVoteFlood sends one vote 64 times at once, together with 16 other
// votes of the same mandate (new stamps and nonces): the mandate counts
// once, the copies of the vote that won all get 204, and every other
// answer is 481. Without the store's once-per-mandate rule the other votes
// would be counted too.
func TestVoteFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	e.healthy(t, in)
	b := e.newBallot(t, testOptions[1])
	ballots := make([]*ballot, 0, 80)
	for range 64 {
		ballots = append(ballots, b)
	}
	for range 16 {
		o := b.clone()
		e.restamp(t, o, e.clock.Now())
		ballots = append(ballots, o)
	}
	codes := make([]int, len(ballots))
	var wg sync.WaitGroup
	for i, bl := range ballots {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, in.url+"/vote", nil)
			for k, v := range bl.headers(e.pass()) {
				req.Header[k] = []string{v}
			}
			resp, err := e.client.Do(req)
			if err != nil {
				return // code 0, reported below
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	winners := make(map[string]bool) // nonces of the votes answered 204
	for i, c := range codes {
		switch c {
		case http.StatusNoContent:
			winners[ballots[i].nonce] = true
		case 481:
		default:
			t.Errorf("request %d: status %d, want 204 or 481", i, c)
		}
	}
	if len(winners) != 1 {
		t.Errorf("%d different votes of one mandate answered 204, want 1", len(winners))
	}
	if winners[b.nonce] {
		for i := range 64 {
			if codes[i] != http.StatusNoContent {
				t.Errorf("copy %d of the vote that counted got %d, want 204", i, codes[i])
			}
		}
	}
	checkCounts(t, in, 1, 1)
}
