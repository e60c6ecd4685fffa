package backoffice

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testParams make hashes cheap for the tests that are not about their
// cost: 1 MiB, one pass.
var testParams = Params{Time: 1, Memory: 1 << 10, Threads: 1}

// TestReferenceVectors checks the hashing against argon2id vectors of the
// reference implementation (phc-winner-argon2, src/test.c: "password",
// "somesalt", t=2, 256 KiB, one lane and two), PHC strings included.
func TestReferenceVectors(t *testing.T) {
	for _, v := range []struct {
		threads uint8
		key     string
		phc     string
	}{
		{1, "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
		{2, "6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
	} {
		key, _ := hex.DecodeString(v.key)
		h := Hash{Params: Params{Time: 2, Memory: 256, Threads: v.threads}, Salt: []byte("somesalt"), Key: key}
		if !h.Verify("password") {
			t.Errorf("p=%d: the reference vector does not verify", v.threads)
		}
		if h.Verify("passwore") {
			t.Errorf("p=%d: a wrong password verifies", v.threads)
		}
		if got := h.String(); got != v.phc {
			t.Errorf("String = %s, want %s", got, v.phc)
		}
	}
}

func TestHashRoundTrip(t *testing.T) {
	h, err := NewHash("correct horse battery staple", testParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Salt) != saltLen || len(h.Key) != keyLen {
		t.Fatalf("salt %d bytes, key %d bytes", len(h.Salt), len(h.Key))
	}
	back, err := ParseHash(h.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != h.String() || !back.Verify("correct horse battery staple") || back.Verify("correct horse battery stapl") {
		t.Errorf("ParseHash(%s) = %s, or does not verify as it should", h, back)
	}
	other, _ := NewHash("correct horse battery staple", testParams)
	if bytes.Equal(other.Salt, h.Salt) || bytes.Equal(other.Key, h.Key) {
		t.Error("two hashes of one password share a salt or a key")
	}
	if _, err := NewHash("x", Params{Time: 1, Memory: maxMemory + 1, Threads: 1}); err == nil {
		t.Error("NewHash took a memory over the bound")
	}
}

func TestParseHashRefuses(t *testing.T) {
	salt := "AAAAAAAAAAAAAAAAAAAAAA"                     // 16 bytes
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 32 bytes
	good := "$argon2id$v=19$m=1024,t=1,p=1$" + salt + "$" + key
	if _, err := ParseHash(good); err != nil {
		t.Fatalf("ParseHash(%s): %v", good, err)
	}
	for _, bad := range []string{
		"",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=1024", "m=01024", 1),
		strings.Replace(good, "m=1024", "m=4", 1),           // under 8 KiB per lane
		strings.Replace(good, "m=1024", "m=262145", 1),      // over 256 MiB
		strings.Replace(good, "m=1024", "m=99999999999", 1), // over 32 bits
		strings.Replace(good, "t=1", "t=0", 1),
		strings.Replace(good, "t=1", "t=17", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "p=1", "p=17", 1),
		strings.Replace(good, "p=1", "p=+1", 1),
		strings.Replace(good, "m=1024,t=1,p=1", "t=1,m=1024,p=1", 1),
		strings.Replace(good, "m=1024,t=1,p=1", "m=1024,t=1", 1),
		strings.Replace(good, salt, "AAAAAAAAAAAAAAAAAAAA", 1),   // 15 bytes
		strings.Replace(good, salt, salt+"==", 1),                // padded
		strings.Replace(good, salt, "AAAAAAAAAAAAAAAAAAAAAB", 1), // non-zero trailing bits
		strings.Replace(good, key, key[:len(key)-1]+"-", 1),      // not standard base64
		good + "$",
		"$" + good,
	} {
		if h, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) = %v, want an error", bad, h)
		}
	}
}

func testAccount(t testing.TB, name string, role Role, password string) Account {
	t.Helper()
	h, err := NewHash(password, testParams)
	if err != nil {
		t.Fatal(err)
	}
	return Account{Name: name, Role: role, Created: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC), Hash: h}
}

func TestAccountsFileRoundTrip(t *testing.T) {
	var as *Accounts
	var err error
	for _, a := range []Account{
		testAccount(t, "carol", Auditor, "carol's password"),
		testAccount(t, "alice", Viewer, "alice's password"),
		testAccount(t, "bob.ops", Operator, "bob's password!"),
	} {
		if as, err = as.With(a, false); err != nil {
			t.Fatal(err)
		}
	}
	data := as.Format()
	if !bytes.HasPrefix(data, []byte(accountsHeader)) {
		t.Errorf("no header: %q", data)
	}
	back, err := ParseAccounts(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got := back.Format(); !bytes.Equal(got, data) {
		t.Errorf("Format(ParseAccounts(f)) differs:\n%s\nwant\n%s", got, data)
	}
	var names []string
	for _, a := range back.List() {
		names = append(names, a.Name+":"+a.Role.String())
	}
	if strings.Join(names, " ") != "alice:viewer bob.ops:operator carol:auditor" {
		t.Errorf("accounts %v", names)
	}
	a, ok := back.Lookup("bob.ops")
	if !ok || !a.Hash.Verify("bob's password!") || a.Created != time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC) {
		t.Errorf("Lookup(bob.ops) = %+v, %v", a, ok)
	}
	if _, err := back.With(testAccount(t, "alice", Operator, "x"), false); !errors.Is(err, ErrExists) {
		t.Errorf("With an existing name: %v, want ErrExists", err)
	}
	repl, err := back.With(testAccount(t, "alice", Operator, "new password"), true)
	if a, _ := repl.Lookup("alice"); err != nil || a.Role != Operator || !a.Hash.Verify("new password") {
		t.Errorf("With replace: %v, %+v", err, a)
	}
	if a, _ := back.Lookup("alice"); a.Role != Viewer {
		t.Error("With changed the Accounts it was called on")
	}
	less, err := back.Without("bob.ops")
	if err != nil || less.Len() != 2 || back.Len() != 3 {
		t.Errorf("Without: %v, %d accounts (the original %d)", err, less.Len(), back.Len())
	}
	if _, err := less.Without("bob.ops"); !errors.Is(err, ErrNoSuchAccount) {
		t.Errorf("Without an absent name: %v, want ErrNoSuchAccount", err)
	}
}

func TestParseAccountsRefuses(t *testing.T) {
	a := testAccount(t, "alice", Viewer, "alice's password")
	line := "alice viewer 2026-05-01T09:30:00Z " + a.Hash.String()
	if _, err := ParseAccounts([]byte(line + "\n")); err != nil {
		t.Fatalf("the good line: %v", err)
	}
	tests := []struct {
		file, msg string
	}{
		{line, "no newline"},
		{line + "\r\n", "line 1"},
		{"Alice" + line[5:] + "\n", "account name"},
		{"9lice" + line[5:] + "\n", "account name"},
		{strings.Repeat("a", 33) + line[5:] + "\n", "account name"},
		{strings.Replace(line, "viewer", "admin", 1) + "\n", `role "admin"`},
		{strings.Replace(line, "viewer", "Viewer", 1) + "\n", "role"},
		{strings.Replace(line, " ", "  ", 1) + "\n", "single spaces"},
		{strings.Replace(line, " ", "\t", 1) + "\n", "single spaces"},
		{line + " extra\n", "single spaces"},
		{strings.Replace(line, "2026-05-01T09:30:00Z", "2026-05-01T11:30:00+02:00", 1) + "\n", "created"},
		{strings.Replace(line, "2026-05-01T09:30:00Z", "2026-05-01T09:30:00.5Z", 1) + "\n", "created"},
		{strings.Replace(line, "2026-05-01T09:30:00Z", "1999-05-01T09:30:00Z", 1) + "\n", "created"},
		{strings.Replace(line, "$argon2id$", "$argon2i$", 1) + "\n", "hash"},
		{"# header\n" + line + "\n\n" + line + "\n", "twice"},
		{"# header\n" + line + "\n garbage\n", "line 3"},
	}
	for _, tt := range tests {
		_, err := ParseAccounts([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseAccounts(%.60q...): %v, want an error naming %q", tt.file, err, tt.msg)
		}
	}
}

// TestAccountsFile checks the file UpdateAccounts writes: mode 0600,
// no password in it, and LoadAccounts refusing a file others may read.
func TestAccountsFile(t *testing.T) {
	dir := t.TempDir()
	path := AccountsPath(dir)
	if _, err := LoadAccounts(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadAccounts of no file: %v, want fs.ErrNotExist", err)
	}
	const password = "correct horse battery staple"
	err := UpdateAccounts(path, func(as *Accounts) (*Accounts, error) {
		return as.With(testAccount(t, "alice", Operator, password), false)
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file: %v, mode %v, want 0600", err, fi.Mode())
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(password)) || bytes.Contains(bytes.ToLower(data), []byte("horse")) {
		t.Errorf("the accounts file holds the password:\n%s", data)
	}
	as, err := LoadAccounts(path)
	if a, ok := as.Lookup("alice"); err != nil || !ok || !a.Hash.Verify(password) {
		t.Fatalf("LoadAccounts: %v; alice %v", err, ok)
	}

	// A change that fails leaves the file as it was.
	boom := errors.New("boom")
	if err := UpdateAccounts(path, func(*Accounts) (*Accounts, error) { return nil, boom }); err != boom {
		t.Errorf("UpdateAccounts with a failing change: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
		t.Error("a failed change altered the file")
	}

	os.Chmod(path, 0o640)
	if _, err := LoadAccounts(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadAccounts of a 0640 file: %v, want a refusal", err)
	}
	// Nor does a change read it.
	err = UpdateAccounts(path, func(as *Accounts) (*Accounts, error) { return as, nil })
	if err == nil {
		t.Error("UpdateAccounts read a 0640 file")
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, []byte("alice admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAccounts(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("LoadAccounts of a bad file: %v, want the path and the line", err)
	}
}

// TestUpdateAccountsConcurrent adds accounts from several goroutines at
// once: the lock keeps every one.
func TestUpdateAccountsConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), AccountsFile)
	names := []string{"a1", "a2", "a3", "a4", "a5", "a6"}
	accounts := make([]Account, len(names))
	for i, n := range names {
		accounts[i] = testAccount(t, n, Viewer, "password of "+n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- UpdateAccounts(path, func(as *Accounts) (*Accounts, error) { return as.With(a, false) })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	as, err := LoadAccounts(path)
	if err != nil || as.Len() != len(names) {
		t.Errorf("after %d concurrent adds: %v, %d accounts", len(names), err, as.Len())
	}
}

func TestRoleRights(t *testing.T) {
	tests := []struct {
		role                Role
		view, act, download bool
	}{
		{Viewer, true, false, false},
		{Operator, true, true, false},
		{Auditor, true, false, true},
		{0, false, false, false},
		{9, false, false, false},
	}
	for _, tt := range tests {
		if got := [3]bool{tt.role.Can(View), tt.role.Can(Act), tt.role.Can(Download)}; got != [3]bool{tt.view, tt.act, tt.download} {
			t.Errorf("%v can view, act, download: %v", tt.role, got)
		}
		if tt.role.Can(0) || tt.role.Can(View|Act|Download) {
			t.Errorf("%v can a zero right or all of them", tt.role)
		}
	}
	for _, s := range []string{"viewer", "operator", "auditor"} {
		if r, err := ParseRole(s); err != nil || r.String() != s {
			t.Errorf("ParseRole(%s) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseRole("admin"); err == nil {
		t.Error("ParseRole(admin) worked")
	}
}

// FuzzParseAccounts checks that an accounts file that parses has one
// spelling: formatting it and parsing again gives the same accounts and
// the same bytes.
func FuzzParseAccounts(f *testing.F) {
	a := testAccount(f, "alice", Viewer, "alice's password")
	f.Add([]byte(accountsHeader + "alice viewer 2026-05-01T09:30:00Z " + a.Hash.String() + "\n"))
	f.Add([]byte("# x\n\nbob operator 2026-05-01T09:30:00Z $argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Add([]byte("alice admin\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := ParseAccounts(data)
		if err != nil {
			return
		}
		out := as.Format()
		back, err := ParseAccounts(out)
		if err != nil {
			t.Fatalf("Format wrote a file ParseAccounts refuses: %v\n%s", err, out)
		}
		if again := back.Format(); !bytes.Equal(again, out) {
			t.Fatalf("two spellings:\n%s\n%s", out, again)
		}
		for _, a := range as.List() {
			if CheckName(a.Name) != nil || a.Role.Rights() == 0 {
				t.Fatalf("accepted account %+v", a)
			}
		}
	})
}

// FuzzParseHash checks that a hash that parses is written back as it
// was read: one spelling per hash.
func FuzzParseHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			return
		}
		if h.String() != s {
			t.Fatalf("ParseHash(%q) writes back as %q", s, h.String())
		}
	})
}
