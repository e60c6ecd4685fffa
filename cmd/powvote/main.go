// Command powvote runs and operates the powvote voting platform: the edge,
// the collectors, the publisher, and the tools of authorities, stations,
// voters and auditors. Run "powvote help" for the list of subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand may touch besides its arguments, so tests can run
// commands in-process with their own streams.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// command is one subcommand; name may be two words ("booth code").
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is filled by the init functions of the subcommand files.
var commands []command

func register(c command) { commands = append(commands, c) }

// usageError marks errors that come from bad arguments (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	// The first interrupt starts a graceful shutdown; a second one aborts.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "powvote: interrupted twice, aborting")
		os.Exit(130)
	}()
	code := Run(ctx, &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	cancel()
	os.Exit(code)
}

// Run dispatches args to a subcommand and returns the exit status.
func Run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, rest := find(args[1:]); c != nil && len(rest) == 0 {
				return Run(ctx, e, append(strings.Fields(c.name), "--help"))
			}
		}
		printUsage(e.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, rest := find(args)
	if c == nil {
		fmt.Fprintf(e.Stderr, "powvote: unknown command %q (run powvote help)\n", strings.Join(args[:min(len(args), 2)], " "))
		return 2
	}
	err := c.run(ctx, e, rest)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(e.Stderr, "powvote %s: %v (see powvote %s --help)\n", c.name, oneLine(err), c.name)
		return 2
	default:
		fmt.Fprintf(e.Stderr, "powvote %s: %v\n", c.name, oneLine(err))
		return 1
	}
}

// find matches the longest command name at the start of args.
func find(args []string) (*command, []string) {
	var best *command
	bestWords := 0
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(words) > len(args) || len(words) <= bestWords {
			continue
		}
		match := true
		for j, w := range words {
			if args[j] != w {
				match = false
				break
			}
		}
		if match {
			best, bestWords = &commands[i], len(words)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestWords:]
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "powvote: an edge-proxied proof-of-work voting platform")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: powvote <command> [flags]   (every command takes --help)")
	fmt.Fprintln(w)
	sorted := append([]command(nil), commands...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-18s %s\n", c.name, c.summary)
	}
}

// newFlags makes a FlagSet whose --help prints usage text and examples.
func newFlags(e *env, name, usage, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("powvote "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: powvote %s %s\n\n%s\n", name, usage, strings.TrimSpace(help))
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintln(w, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args and refuses positional arguments beyond want.
func parseFlags(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	// Allow flags after positional arguments (powvote init solar --dir D).
	var pos []string
	rest := fs.Args()
	for len(rest) > 0 {
		pos = append(pos, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest = fs.Args()
	}
	if len(pos) != want {
		return nil, usagef("want %d argument(s), got %d %q", want, len(pos), pos)
	}
	return pos, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
