package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/edge"
	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/published"
)

func init() {
	register(command{name: "audit", summary: "verify a campaign's published lists and print the tally", run: runAudit})
}

const auditHelp = `
Downloads a campaign's published lists from SOURCE and checks everything
public data allows: the format of every line, every vote's proof of work
against the threshold, that every option is on the ballot and every stamp
time inside the campaign, every mandate's signature and authority, that no
mandate, nonce or voter stamp stands twice, and that there are as many votes
as voters. Prints the tally, the settings it checked against (their SHA-256,
the authority keys, the threshold and the window) and each check's verdict
with the line numbers that fail it. Exits 0 only when every check passes.

It also checks what the publisher signs about the lists
(docs/PUBLISHING.md). The latest checkpoints of both lists and of the
retracted list, and every checkpoint read after them, must verify under
the log key and carry their list's origin; every line of each must be
under a verified checkpoint whose root is the list's tree hash at its
size. A list read longer than its checkpoint
(the publisher published meanwhile, or padded the list) is covered by the
checkpoint the publisher keeps for that size (<campaign>-vote.checkpoint.N);
lines no verified checkpoint covers are unsigned: they fail under --strict,
and otherwise the report names them and leaves them out of the tally. Each
--since checkpoint must be a prefix of its list now. The history
(<campaign>-history.log) must grow, no option's count may drop, and each
line's counts must be the tally of the votes list at its size; the report
also shows each option's largest growth from one history line to the next
against its median growth, which is worth a look but is no failure. Every
checkpoint commits to the settings (a "settings <SHA-256>" line); each
must name the SHA-256 of the settings checked against, and with --settings
the file SOURCE serves as <campaign>-settings.yaml must be that file, byte
for byte. A source that does not have the key, the checkpoints or the
history gets those checks skipped, unless --strict.

What it trusts, and where it must come from:
  - the settings (ballot, authority keys, threshold, window): --settings
    FILE, the copy the election authority announced, obtained apart from
    SOURCE. Without it they are read from SOURCE, the platform under audit,
    which could add an authority key of its own and pad both lists with
    mandates it signed itself; the report says so, and --strict fails.
  - the log key: --log-key, obtained apart from SOURCE (for example kept
    from the campaign's start). Without it the key SOURCE serves is used,
    and a platform that rewrote its lists can serve a new key with them.
  - the checkpoints you kept (--since): your own record of what the lists
    were. --save-checkpoints keeps only checkpoints whose signature
    verified. Their roots are compared with the lists even when no key is
    at hand, and with a key they must verify under it: a log key that
    changed fails.
A checkpoint without a settings line (signed by a publisher from before
the line) is accepted with a warning, and fails under --strict.

The retracted list (<campaign>-retracted.log) explains the votes a
collecting instance withdrew when both instances of a pair had accepted a
vote for one mandate (docs/MIRRORS.md): each line is the retracted vote,
the nonce of the vote that won and the receipt key's signature binding
the two. It is signed and checkpointed like the lists. Each retracted vote
must pass the checks of a vote (proof of work, option, stamp time and,
after the close, its platform stamp); must not be counted (its nonce in
the votes list, or its voter stamp on another line than its winner's); its
winner must stand in the votes list, beat it by the mirror rule (the
smaller P-UTC, then nonce, stamp, line) and explain no other retraction;
and the signature must verify under the receipt key: --receipt-pubkey,
obtained apart from SOURCE like the receipts' key, else the one SOURCE
serves (<campaign>-receipt.key), else its keys file's. The report counts
the retractions.

Once the campaign has closed, every vote's P-SIG must be a UTC-SIGN
signature of its P-UTC: a decoy stamp (UTC-HOLE) or a forged one must
never be in the votes list. The UTC-SIGN key is --utc-sign-key, better
obtained independently of the platform, else the one <campaign>-keys.txt
gives; when both are there they must agree, and a keys file that is there
must be well formed. Before the close the key is secret and the keys file
is not published, so without --utc-sign-key the check is skipped, even
under --strict: that is what an open campaign looks like.

SOURCE is the base URL of an edge or a publisher, or a folder holding the
downloaded <campaign>-vote.log and <campaign>-auth.log.

The public settings come from --settings, else from the folder
(<campaign>-settings.yaml, then campaign.yaml), else from
<SOURCE>/<campaign>-settings.yaml. The campaign is --campaign, else the
one the settings name; for a URL without either, the edge is asked which
campaigns it serves (<SOURCE>/campaigns.txt): the one it serves is
audited, and an edge of several needs --campaign.

--report FILE also writes the report as one HTML file that needs nothing
else to show or print (A4): the settings, the tally, the lists' tree heads,
the checkpoints with the keys that signed them, every check with its
verdict, and the history drawn per option at one point a minute with each
option's largest growth against its median. It is written whatever the
verdict, as long as the lists could be read.

Examples:
  powvote audit http://127.0.0.1:8080 --settings solar-settings.yaml --log-key solar-log.vkey --strict
  powvote audit ./solar --settings solar-settings.yaml --log-key solar-log.vkey --report solar-report.html
  powvote audit ./downloads --campaign solar --json
  powvote audit http://127.0.0.1:8080 --settings solar-settings.yaml --log-key solar-log.vkey \
      --since kept/solar-vote.checkpoint.308 --save-checkpoints kept
  powvote audit ./solar --settings solar-settings.yaml --utc-sign-key solar-utc-sign.pub --receipt-pubkey solar-receipt.pub
`

// bigList is the size from which a progress bar is worth drawing.
const bigList = 4 << 20

func runAudit(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "audit", "SOURCE [--settings FILE] [--campaign C] [--workers N] [--json] [--report FILE]", auditHelp)
	settingsFile := fs.String("settings", "", "the campaign's public settings `FILE` as the authority announced them, obtained apart from SOURCE (default: the ones SOURCE serves)")
	name := fs.String("campaign", "", "campaign name (default: the one the settings name)")
	workers := fs.Int("workers", 0, "verifying goroutines (default: all cores)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	logKey := fs.String("log-key", "", "the checkpoints' note verifier key, or a file holding it (default: the one SOURCE serves)")
	var since stringList
	fs.Var(&since, "since", "an earlier checkpoint `FILE` of either list or of the retracted list that it must extend; repeatable")
	saveDir := fs.String("save-checkpoints", "", "write the checkpoints verified into `DIR`, for a later --since")
	strict := fs.Bool("strict", false, "fail, rather than skip or warn, when SOURCE lacks the log key, the checkpoints or the history, when lines are not under a signed checkpoint, when a latest checkpoint has no settings line, and without --settings")
	utcSignKey := fs.String("utc-sign-key", "", "the UTC-SIGN public key (base64 or hex), or a file holding it (default: the one SOURCE's keys file gives, after the close)")
	receiptKey := fs.String("receipt-pubkey", "", "the receipt public key (base64 or hex), or a file holding it, that binds each retracted vote to its winner (default: the one SOURCE serves)")
	reportFile := fs.String("report", "", "also write the report as one self-contained HTML `FILE`, to keep and print: settings, tally, checkpoints, every check's verdict and the growth chart")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	if *workers < 0 {
		return usagef("--workers %d is negative", *workers)
	}
	logs := &audit.LogOptions{Strict: *strict}
	if *logKey != "" {
		if logs.Key, err = readKeyArg(*logKey); err != nil {
			return err
		}
	}
	var utcSign ed25519.PublicKey
	if *utcSignKey != "" {
		if utcSign, err = readStampKeyArg(*utcSignKey); err != nil {
			return usagef("--utc-sign-key: %v", err)
		}
	}
	var receiptPub ed25519.PublicKey
	if *receiptKey != "" {
		if receiptPub, err = readStampKeyArg(*receiptKey); err != nil {
			return usagef("--receipt-pubkey: %v", err)
		}
	}
	for _, f := range since {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		logs.Since = append(logs.Since, b)
	}
	src, err := auditSource(ctx, pos[0])
	if err != nil {
		return err
	}
	settings, settingsData, from, err := auditSettings(src, pos[0], *settingsFile, *name)
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(e.Stdout, "settings: %s\n", from)
	}

	var bar *progress
	var shown int64
	r, err := audit.Run(ctx, src, settings, audit.Options{
		Workers: *workers,
		Progress: func(done, total int64) {
			if total < bigList {
				return // unknown or small: done before a bar would help
			}
			if bar == nil {
				bar = newProgress(e.Stderr, "audit", int(total))
			}
			bar.add(int(done - shown))
			shown = done
		},
		Logs:          logs,
		UTCSignKey:    utcSign,
		ReceiptKey:    receiptPub,
		SettingsData:  settingsData,
		SettingsGiven: *settingsFile != "",
	})
	bar.finish()
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			OK bool `json:"ok"`
			*audit.Report
		}{r.OK(), r}
		enc := json.NewEncoder(e.Stdout)
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		r.WriteText(e.Stdout)
	}
	if *saveDir != "" {
		if err := saveCheckpoints(*saveDir, r); err != nil {
			return err
		}
	}
	if *reportFile != "" {
		var b bytes.Buffer
		if err := r.WriteHTML(&b); err != nil {
			return fmt.Errorf("couldn't write the report: %w", err)
		}
		if err := durable.WriteFile(*reportFile, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if !r.OK() {
		return fmt.Errorf("campaign %s fails %d check(s): %s", r.Campaign, len(r.Failures), strings.Join(r.Failed(), ", "))
	}
	return nil
}

// auditSource reads SOURCE: an http(s) URL or an existing folder.
func auditSource(ctx context.Context, s string) (audit.Source, error) {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		// No overall timeout: a big list takes as long as it takes to
		// download, but a server that does not answer at all is given up.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 30 * time.Second
		return &audit.URL{Base: s, Client: &http.Client{Transport: t}, Context: ctx}, nil
	}
	st, err := os.Stat(s)
	if err != nil {
		return nil, usagef("SOURCE %q is neither an http(s) URL nor a folder: %v", s, err)
	}
	if !st.IsDir() {
		return nil, usagef("SOURCE %s is not a folder", s)
	}
	return audit.Dir(s), nil
}

// auditSettings finds the campaign's public settings, with the exact bytes
// they were read from, and says where they came from. Only --settings FILE
// is the auditor's own copy; the others come from SOURCE, the platform
// under audit.
func auditSettings(src audit.Source, source, file, name string) (*campaign.Settings, []byte, string, error) {
	check := func(s *campaign.Settings, data []byte, from string) (*campaign.Settings, []byte, string, error) {
		if name != "" && s.Name != name {
			return nil, nil, "", fmt.Errorf("the settings in %s are for campaign %q, not %q", from, s.Name, name)
		}
		return s, data, from, nil
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, "", fmt.Errorf("couldn't read the settings: %w", err)
		}
		s, err := campaign.Parse(data)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", file, err)
		}
		return check(s, data, file)
	}
	if u, isURL := src.(*audit.URL); isURL && name == "" {
		// Without --campaign, the edge says which campaigns it serves.
		names, err := campaignsOf(u)
		if err != nil {
			return nil, nil, "", err
		}
		switch {
		case len(names) == 1:
			name = names[0]
		case len(names) > 1:
			return nil, nil, "", usagef("the edge serves campaigns %s: give --campaign", strings.Join(names, ", "))
		}
	}
	var candidates []string
	if name != "" {
		candidates = append(candidates, published.SettingsName(name))
	}
	if dir, isDir := src.(audit.Dir); isDir {
		// A folder of downloads without --campaign: its one settings file
		// (a campaign's name is a DNS label: "*" matches any).
		if m, _ := filepath.Glob(filepath.Join(string(dir), published.SettingsName("*"))); name == "" && len(m) == 1 {
			candidates = append(candidates, filepath.Base(m[0]))
		}
		candidates = append(candidates, campaign.SettingsFile)
	}
	for _, c := range candidates {
		s, data, err := audit.OpenSettings(src, c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, "", err
		}
		return check(s, data, where(source, c))
	}
	if name == "" {
		return nil, nil, "", usagef("no settings: give --settings FILE, or --campaign C for a source that serves %s", published.SettingsName("C"))
	}
	return nil, nil, "", usagef("no settings: %s has no %s; give --settings FILE", source, strings.Join(candidates, " or "))
}

// campaignsOf asks the edge at u for the campaigns it serves
// (edge.CampaignsPath). An edge from before the listing, or a publisher,
// answers with an error status: then it returns no names and no error.
func campaignsOf(u *audit.URL) ([]string, error) {
	ctx := u.Context
	if ctx == nil {
		ctx = context.Background()
	}
	full := strings.TrimSuffix(u.Base, "/") + edge.CampaignsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", full, err)
	}
	c := u.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't ask the edge for its campaigns: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, edge.MaxCampaignsSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", full, err)
	}
	names, err := edge.ParseCampaigns(data)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", full, err)
	}
	return names, nil
}

func where(source, name string) string {
	if strings.Contains(source, "://") {
		return strings.TrimSuffix(source, "/") + "/" + name
	}
	return filepath.Join(source, name)
}

// readKeyArg takes a key given on the command line: the name of a file
// holding it, else the key itself.
func readKeyArg(arg string) (string, error) {
	b, err := os.ReadFile(arg)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if _, kerr := audit.ParseLogKey(arg); kerr == nil {
		return arg, nil
	}
	return "", fmt.Errorf("%q is neither a readable file nor a log key: %w", arg, err)
}

// readStampKeyArg takes an Ed25519 public key given on the command line:
// the key itself, else the name of a file holding it.
func readStampKeyArg(arg string) (ed25519.PublicKey, error) {
	k, kerr := audit.ParseStampKey(arg)
	if kerr == nil {
		return k, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a readable file nor a key: %w", arg, kerr)
	}
	if k, err = audit.ParseStampKey(string(b)); err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return k, nil
}

// saveCheckpoints writes the checkpoints whose signature verified, under
// the names the publisher serves them by at their size, so that a later
// audit can take them as --since.
func saveCheckpoints(dir string, r *audit.Report) error {
	if r.Logs == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range []struct {
		cp   *audit.Checkpoint
		list published.List
	}{
		{r.Logs.Vote, published.Vote},
		{r.Logs.Auth, published.Auth},
		{r.Logs.Retracted, published.Retracted},
	} {
		if c.cp == nil {
			continue
		}
		p := filepath.Join(dir, published.KeptCheckpointName(r.Campaign, c.list, c.cp.Tree.N))
		if err := durable.WriteFile(p, c.cp.Note, 0o644); err != nil {
			return err
		}
	}
	return nil
}
