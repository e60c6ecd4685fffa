package backoffice

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/powvote/powvote/internal/durable"
)

// AccountsFile is the name of the accounts file in the platform directory.
const AccountsFile = "operators"

// AccountsPath is the accounts file of the platform directory dir.
func AccountsPath(dir string) string { return filepath.Join(dir, AccountsFile) }

// Role is what an account may do: each role has a fixed set of rights.
type Role uint8

// The roles. The zero Role is no role: it has no right.
const (
	Viewer   Role = iota + 1 // reads the dashboard and the action log
	Operator                 // a viewer who also acts on campaigns
	Auditor                  // a viewer who also downloads archives and reports
)

var roleNames = [...]string{Viewer: "viewer", Operator: "operator", Auditor: "auditor"}

func (r Role) String() string {
	if r >= Viewer && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	for r := Viewer; int(r) < len(roleNames); r++ {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q: want viewer, operator or auditor", s)
}

// Right is one thing a request may need; a Right value may hold several.
type Right uint8

// The rights. Mounted handlers name the one their reads and writes need.
const (
	View     Right = 1 << iota // read the dashboard, the campaigns and the action log
	Act                        // add, pause, resume, close and archive campaigns
	Download                   // download archives and reports
)

// Rights are the rights of the role.
func (r Role) Rights() Right {
	switch r {
	case Viewer:
		return View
	case Operator:
		return View | Act
	case Auditor:
		return View | Download
	}
	return 0
}

// Can reports whether the role has every right of need. No role can
// anything, and a zero need is refused too: a route that forgot to say
// what it needs serves nobody.
func (r Role) Can(need Right) bool {
	return need != 0 && r.Rights()&need == need
}

// Params are argon2id's cost parameters (RFC 9106).
type Params struct {
	Time    uint32 // passes over the memory
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams are the parameters of new accounts: one check takes about
// 74 ms on a 2-core machine of 2026 (best of five, threads 2) and 64 MiB,
// and logins run at most Config.MaxLogins (2) at once, so a flood of
// logins costs at most 128 MiB. This is the second recommended option of
// RFC 9106 (section 4) with 2 lanes instead of 4, for 2 cores.
var DefaultParams = Params{Time: 3, Memory: 64 << 10, Threads: 2}

// Bounds on the parameters and sizes an accounts file may hold: a file
// edited by hand must not make each login take gigabytes or minutes.
const (
	maxTime    = 16
	maxMemory  = 256 << 10 // KiB: 256 MiB
	maxThreads = 16
	saltLen    = 16
	keyLen     = 32
	minHashLen = 16 // salt and key read from a file: at least this, at most 64
	maxHashLen = 64

	// MinPasswordLen and MaxPasswordLen bound the passwords SetPassword
	// takes, in bytes; MaxPasswordLen bounds what a login form may carry.
	MinPasswordLen = 12
	MaxPasswordLen = 1024
	maxNameLen     = 32
)

func (p Params) check() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("argon2id threads %d outside 1..%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	}
	return nil
}

// Hash is a password's argon2id hash with its parameters and salt.
type Hash struct {
	Params
	Salt []byte
	Key  []byte
}

// NewHash derives the hash of password with p and a fresh random salt.
func NewHash(password string, p Params) (Hash, error) {
	if err := p.check(); err != nil {
		return Hash{}, err
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	return Hash{Params: p, Salt: salt, Key: derive(password, p, salt, keyLen)}, nil
}

func derive(password string, p Params, salt []byte, n int) []byte {
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(n))
}

// Verify reports whether password is the hashed one. It compares the
// derived keys in constant time; what it costs depends on the parameters
// only.
func (h Hash) Verify(password string) bool {
	return subtle.ConstantTimeCompare(derive(password, h.Params, h.Salt, len(h.Key)), h.Key) == 1
}

// String writes the hash in the PHC string format of the reference
// implementation: $argon2id$v=19$m=65536,t=3,p=2$SALT$KEY, salt and key in
// unpadded standard base64.
func (h Hash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.Memory, h.Time, h.Threads, b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// ParseHash reads what Hash.String writes, and nothing else: one spelling
// for each hash.
func ParseHash(s string) (Hash, error) {
	// Go's base64 skips CR and LF: refuse them, and anything but
	// printable ASCII, before decoding.
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return Hash{}, errors.New("hash: a character other than printable ASCII")
		}
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return Hash{}, errors.New("hash: want $argon2id$v=19$m=M,t=T,p=P$SALT$KEY")
	}
	var h Hash
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 {
		return Hash{}, errors.New("hash: want parameters m=M,t=T,p=P")
	}
	m, errM := parseParam(ps[0], "m=", maxMemory)
	t, errT := parseParam(ps[1], "t=", maxTime)
	p, errP := parseParam(ps[2], "p=", maxThreads)
	if err := errors.Join(errM, errT, errP); err != nil {
		return Hash{}, err
	}
	h.Params = Params{Time: t, Memory: m, Threads: uint8(p)}
	if err := h.Params.check(); err != nil {
		return Hash{}, fmt.Errorf("hash: %w", err)
	}
	b64 := base64.RawStdEncoding.Strict()
	var err error
	if h.Salt, err = b64.DecodeString(parts[4]); err != nil || len(h.Salt) < minHashLen || len(h.Salt) > maxHashLen {
		return Hash{}, fmt.Errorf("hash: salt: want %d to %d bytes in unpadded base64", minHashLen, maxHashLen)
	}
	if h.Key, err = b64.DecodeString(parts[5]); err != nil || len(h.Key) < minHashLen || len(h.Key) > maxHashLen {
		return Hash{}, fmt.Errorf("hash: key: want %d to %d bytes in unpadded base64", minHashLen, maxHashLen)
	}
	return h, nil
}

// parseParam reads "m=65536": a decimal without leading zeros, at most max.
func parseParam(s, prefix string, max uint32) (uint32, error) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || digits == "" || len(digits) > 10 || (digits[0] == '0') {
		return 0, fmt.Errorf("hash: parameter %q: want %sN", s, prefix)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n > uint64(max) {
		return 0, fmt.Errorf("hash: parameter %q: want %s1..%d", s, prefix, max)
	}
	return uint32(n), nil
}

// Account is one operator's account.
type Account struct {
	Name    string
	Role    Role
	Created time.Time // whole seconds, UTC
	Hash    Hash
}

// fingerprint tells one password hash from another: a session of an
// account whose password changed since ends (sessions.go).
func (a *Account) fingerprint() [sha256.Size]byte {
	return sha256.Sum256([]byte(a.Hash.String()))
}

// CheckName checks an account name: 1 to 32 of a-z, 0-9, '.', '_' and
// '-', starting with a letter. Names are lower case so that two accounts
// never differ by case alone; a login form's name is lowered first.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("account name %q: want 1 to %d characters", name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')) {
			return fmt.Errorf("account name %q: want a-z, 0-9, '.', '_' or '-', starting with a letter", name)
		}
	}
	return nil
}

// Accounts are the accounts of an accounts file. An Accounts is not
// changed once read or built: a change makes a new one (With, Without),
// so that a server can swap the one it serves with without a lock.
type Accounts struct {
	list []Account // sorted by name
}

// Sentinel errors of account changes, for the command line to branch on.
var (
	ErrExists        = errors.New("an account of that name exists")
	ErrNoSuchAccount = errors.New("no such account")
)

// List returns the accounts, sorted by name.
func (as *Accounts) List() []Account {
	if as == nil {
		return nil
	}
	return slices.Clone(as.list)
}

// Len is the number of accounts.
func (as *Accounts) Len() int {
	if as == nil {
		return 0
	}
	return len(as.list)
}

// Lookup finds the account name.
func (as *Accounts) Lookup(name string) (Account, bool) {
	if as == nil {
		return Account{}, false
	}
	i, ok := slices.BinarySearchFunc(as.list, name, func(a Account, n string) int { return strings.Compare(a.Name, n) })
	if !ok {
		return Account{}, false
	}
	return as.list[i], true
}

// With returns the accounts with a added, or with a in place of the
// account of its name when replace is true. It checks a's name, role and
// hash; ErrExists when an account has that name and replace is false.
func (as *Accounts) With(a Account, replace bool) (*Accounts, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	var list []Account
	if as != nil {
		list = slices.Clone(as.list)
	}
	i, found := slices.BinarySearchFunc(list, a.Name, func(x Account, n string) int { return strings.Compare(x.Name, n) })
	switch {
	case found && !replace:
		return nil, fmt.Errorf("account %s: %w", a.Name, ErrExists)
	case found:
		list[i] = a
	default:
		list = slices.Insert(list, i, a)
	}
	return &Accounts{list: list}, nil
}

// Without returns the accounts without the account name; ErrNoSuchAccount
// when there is none.
func (as *Accounts) Without(name string) (*Accounts, error) {
	if _, ok := as.Lookup(name); !ok {
		return nil, fmt.Errorf("account %s: %w", name, ErrNoSuchAccount)
	}
	list := slices.DeleteFunc(slices.Clone(as.list), func(a Account) bool { return a.Name == name })
	return &Accounts{list: list}, nil
}

func (a *Account) check() error {
	if err := CheckName(a.Name); err != nil {
		return err
	}
	if _, err := ParseRole(a.Role.String()); err != nil {
		return fmt.Errorf("account %s: %w", a.Name, err)
	}
	if !a.Created.Equal(a.Created.UTC().Truncate(time.Second)) || a.Created.Year() < 2000 || a.Created.Year() > 9999 {
		return fmt.Errorf("account %s: created %v: want whole seconds between the years 2000 and 9999", a.Name, a.Created)
	}
	if _, err := ParseHash(a.Hash.String()); err != nil {
		return fmt.Errorf("account %s: %w", a.Name, err)
	}
	return nil
}

// accountsHeader is the first line of every accounts file Format writes.
const accountsHeader = "# powvote operator accounts: NAME ROLE CREATED ARGON2ID-HASH (powvote operator add|list|remove)\n"

// Format writes the accounts file: accountsHeader, then one line per
// account, sorted by name:
//
//	NAME SP ROLE SP CREATED SP HASH LF
//
// with CREATED in RFC 3339 (UTC, whole seconds) and HASH as Hash.String.
// It holds no password: only each one's argon2id hash.
func (as *Accounts) Format() []byte {
	var b bytes.Buffer
	b.WriteString(accountsHeader)
	for _, a := range as.List() {
		fmt.Fprintf(&b, "%s %s %s %s\n", a.Name, a.Role, a.Created.UTC().Format(time.RFC3339), a.Hash)
	}
	return b.Bytes()
}

// ParseAccounts reads an accounts file: lines as Format writes them, in
// any order; lines that start with '#' and empty lines are skipped. It
// refuses anything else, naming the line: a field out of place, an
// unknown role, a hash out of bounds, two accounts of one name.
func ParseAccounts(data []byte) (*Accounts, error) {
	var list []Account
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		if line == "" || line[0] == '#' {
			continue
		}
		a, err := parseAccount(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		list = append(list, a)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("line %d: no newline at its end", len(lines))
	}
	slices.SortFunc(list, func(a, b Account) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(list); i++ {
		if list[i].Name == list[i-1].Name {
			return nil, fmt.Errorf("account %s: %w twice", list[i].Name, ErrExists)
		}
	}
	return &Accounts{list: list}, nil
}

func parseAccount(line string) (Account, error) {
	f := strings.Split(line, " ")
	if len(f) != 4 {
		return Account{}, errors.New("want NAME ROLE CREATED HASH, separated by single spaces")
	}
	if err := CheckName(f[0]); err != nil {
		return Account{}, err
	}
	role, err := ParseRole(f[1])
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", f[0], err)
	}
	created, err := time.Parse(time.RFC3339, f[2])
	if err != nil || created.UTC().Format(time.RFC3339) != f[2] {
		return Account{}, fmt.Errorf("account %s: created %q: want a UTC time such as 2026-05-01T09:30:00Z", f[0], f[2])
	}
	h, err := ParseHash(f[3])
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", f[0], err)
	}
	a := Account{Name: f[0], Role: role, Created: created, Hash: h}
	return a, a.check()
}

// LoadAccounts reads the accounts file at path. A missing file is an
// error wrapping fs.ErrNotExist. A file that others than its owner may
// read or write is refused: the hashes are for the platform's eyes only.
func LoadAccounts(path string) (*Accounts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("accounts file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("accounts file %s has mode %04o: others than its owner may read it (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	// An accounts file holds tens of lines of 150 bytes; refuse to read a
	// file that cannot be one whole.
	const maxFile = 1 << 20
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("accounts file %s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("accounts file %s: larger than %d bytes", path, maxFile)
	}
	as, err := ParseAccounts(data)
	if err != nil {
		return nil, fmt.Errorf("accounts file %s: %w", path, err)
	}
	return as, nil
}

// UpdateAccounts changes the accounts file at path: it takes an exclusive
// lock beside it (path+".lock", where flock(2) exists), reads the file (a
// missing one holds no account), hands its accounts to change and writes
// what change returns atomically and durably, mode 0600. An error of
// change leaves the file as it was and is returned as it is.
func UpdateAccounts(path string, change func(*Accounts) (*Accounts, error)) error {
	unlock, err := lockPath(path + ".lock")
	if err != nil {
		return fmt.Errorf("lock the accounts file: %w", err)
	}
	defer unlock()
	as, err := LoadAccounts(path)
	if errors.Is(err, fs.ErrNotExist) {
		as, err = &Accounts{}, nil
	}
	if err != nil {
		return err
	}
	next, err := change(as)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(path, next.Format(), 0o600); err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	return nil
}
