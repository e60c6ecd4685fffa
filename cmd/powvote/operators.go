package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/powvote/powvote/backoffice"
)

func init() {
	register(command{name: "operator add", summary: "add an account to the back office (password on standard input)", run: runOperatorAdd})
	register(command{name: "operator list", summary: "list the back office's accounts", run: runOperatorList})
	register(command{name: "operator remove", summary: "remove an account from the back office", run: runOperatorRemove})
}

const operatorAddHelp = `
Adds the account NAME with the role ROLE to the back office of D: the
organizer's dashboard and the campaign actions, served on the --metrics
listener of every server of D (docs/OPERATIONS.md). The roles:

  viewer     reads the dashboard and the action log
  operator   a viewer who also adds, pauses, resumes, closes and
             archives campaigns
  auditor    a viewer who also downloads archives and reports

The password is read from standard input: typed twice without echo on a
terminal, otherwise the first line (for a password manager or a script:
never put a password in a command's arguments, which other users of the
machine see). At least 12 characters. D/operators keeps only its argon2id
hash (mode 0600). --replace gives an existing account a new role and
password; its sessions end. Every change is appended to
D/operator-actions.log. Send the servers of D SIGHUP to serve the change.

NAME: 1 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter.

Examples:
  powvote operator add alice --role operator --dir /srv/powvote
  pass show powvote/bob | powvote operator add bob --role viewer --dir /srv/powvote
`

const operatorListHelp = `
Lists the back office's accounts of D: name, role and when each was
added. Never their hashes.

Example:
  powvote operator list --dir /srv/powvote
`

const operatorRemoveHelp = `
Removes the account NAME from the back office of D, and appends the
change to D/operator-actions.log. Send the servers of D SIGHUP: the
account's sessions end then.

Example:
  powvote operator remove alice --dir /srv/powvote
`

func runOperatorAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "operator add", "NAME --role ROLE --dir D [--replace]", operatorAddHelp)
	dir := fs.String("dir", "", "platform directory (required)")
	roleName := fs.String("role", "", "viewer, operator or auditor (required)")
	replace := fs.Bool("replace", false, "replace the role and password of an existing account")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if err := checkOperatorDir(*dir); err != nil {
		return err
	}
	if err := backoffice.CheckName(name); err != nil {
		return usagef("%v", err)
	}
	if *roleName == "" {
		return usagef("--role is required: viewer, operator or auditor")
	}
	role, err := backoffice.ParseRole(*roleName)
	if err != nil {
		return usagef("--role: %v", err)
	}
	password, err := readPassword(ctx, e, name)
	if err != nil {
		return err
	}
	hash, err := backoffice.NewHash(password, backoffice.DefaultParams)
	if err != nil {
		return err
	}
	action := backoffice.ActionAccountAdd
	if *replace {
		action = backoffice.ActionAccountReplace
	}
	err = backoffice.UpdateAccounts(backoffice.AccountsPath(*dir), func(as *backoffice.Accounts) (*backoffice.Accounts, error) {
		a := backoffice.Account{Name: name, Role: role, Created: time.Now().UTC().Truncate(time.Second), Hash: hash}
		old, exists := as.Lookup(name)
		if *replace && !exists {
			return nil, fmt.Errorf("account %s: %w (add it without --replace)", name, backoffice.ErrNoSuchAccount)
		}
		if exists && !*replace {
			return nil, fmt.Errorf("account %s: %w (give --replace to change its role and password)", name, backoffice.ErrExists)
		}
		if exists {
			a.Created = old.Created
		}
		return as.With(a, *replace)
	})
	if lerr := logAccountChange(*dir, action, name, role.String(), err); lerr != nil && err == nil {
		return lerr
	}
	if err != nil {
		return err
	}
	verb := "added"
	if *replace {
		verb = "replaced"
	}
	fmt.Fprintf(e.Stdout, "account %s (%s) %s in %s; send the servers of %s SIGHUP to serve the change\n", name, role, verb, backoffice.AccountsPath(*dir), *dir)
	return nil
}

func runOperatorList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "operator list", "--dir D", operatorListHelp)
	dir := fs.String("dir", "", "platform directory (required)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := checkOperatorDir(*dir); err != nil {
		return err
	}
	as, err := backoffice.LoadAccounts(backoffice.AccountsPath(*dir))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.Stderr, "no operator accounts in %s (powvote operator add)\n", *dir)
		return nil
	}
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tCREATED")
	for _, a := range as.List() {
		fmt.Fprintf(w, "%s\t%s\t%s\n", a.Name, a.Role, a.Created.Format(time.RFC3339))
	}
	return w.Flush()
}

func runOperatorRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "operator remove", "NAME --dir D", operatorRemoveHelp)
	dir := fs.String("dir", "", "platform directory (required)")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if err := checkOperatorDir(*dir); err != nil {
		return err
	}
	var role string
	err = backoffice.UpdateAccounts(backoffice.AccountsPath(*dir), func(as *backoffice.Accounts) (*backoffice.Accounts, error) {
		if a, ok := as.Lookup(name); ok {
			role = a.Role.String()
		}
		return as.Without(name)
	})
	if lerr := logAccountChange(*dir, backoffice.ActionAccountRemove, name, role, err); lerr != nil && err == nil {
		return lerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "account %s removed from %s; send the servers of %s SIGHUP to end its sessions\n", name, backoffice.AccountsPath(*dir), *dir)
	return nil
}

// checkOperatorDir checks --dir: given, and a directory.
func checkOperatorDir(dir string) error {
	if dir == "" {
		return usagef("--dir is required")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("platform directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("platform directory %s: not a directory", dir)
	}
	return nil
}

// logAccountChange appends an account change from the command line to
// the action log of dir: who is the system user, the outcome err's text
// or "ok".
func logAccountChange(dir, action, name, role string, err error) error {
	outcome := backoffice.OutcomeOK
	if err != nil {
		outcome = err.Error()
	}
	if role != "" && err == nil {
		outcome += " (role " + role + ")"
	}
	return backoffice.OpenLog(backoffice.LogPath(dir)).Append(backoffice.Entry{
		Time:    time.Now(),
		Who:     "cli:" + systemUser(),
		Action:  action,
		Target:  name,
		Outcome: outcome,
	})
}

// systemUser names who runs the command, for the action log.
func systemUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// readPassword reads a new account's password: typed twice without echo
// when standard input is a terminal, else its first line (without the
// line's end). It checks the length.
func readPassword(ctx context.Context, e *env, name string) (string, error) {
	var password string
	if f, ok := e.Stdin.(*os.File); ok && isTerminal(f) {
		in := bufio.NewReader(f)
		fmt.Fprintf(e.Stderr, "Password for %s: ", name)
		first, err := readHidden(ctx, f, in)
		fmt.Fprintln(e.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(e.Stderr, "Again: ")
		second, err := readHidden(ctx, f, in)
		fmt.Fprintln(e.Stderr)
		if err != nil {
			return "", err
		}
		if first != second {
			return "", errors.New("the two passwords differ")
		}
		password = first
	} else {
		line, err := readLine(bufio.NewReader(io.LimitReader(e.Stdin, backoffice.MaxPasswordLen+3)))
		if err != nil {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		password = line
	}
	switch {
	case len(password) < backoffice.MinPasswordLen:
		return "", fmt.Errorf("the password has %d characters: give at least %d", len(password), backoffice.MinPasswordLen)
	case len(password) > backoffice.MaxPasswordLen:
		return "", fmt.Errorf("the password is longer than %d bytes", backoffice.MaxPasswordLen)
	case strings.ContainsFunc(password, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", errors.New("the password holds a control character")
	}
	return password, nil
}

// readLine reads one line and drops its end (LF or CR LF). A last line
// without an end counts; no line at all is an error.
func readLine(in *bufio.Reader) (string, error) {
	line, err := in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password given")
		}
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}
