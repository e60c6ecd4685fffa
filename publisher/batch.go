package publisher

// The batching policy: how much of what is final a round publishes, and
// when. Both rules are here, apart from the merge rule that decides what
// is final (merge.go) and from the logs that record a batch (logs.go).

// batchLen is how many of the ready votes, and as many voters, the round
// under way publishes: ready is the smaller of the two queues, b is
// Config.BatchSize, and flushing says the round publishes the last batch.
//
// A batch smaller than Config.BatchSize would narrow down who cast which
// vote, and so would the last batch at the close if it were small: votes
// that come one by one after the last batch before it would be published
// one by one. So, before the close, a round publishes only what it can
// take while keeping at least BatchSize back: ready - BatchSize, and only
// when that is itself at least BatchSize (ready >= 2*BatchSize); nothing
// otherwise. The last batch (flushing: the close, Finish, Flush) takes
// everything, which is then at least BatchSize whenever anything was
// published before it (the BatchSize kept back only grows) and whenever
// the campaign had at least BatchSize votes in all. A campaign with fewer
// than that publishes all of them in that one batch at the close.
//
// The price is time: a vote is published once at least BatchSize votes
// have become final after it, and at most 2*BatchSize-1 (when it was the
// first of those kept back); otherwise at the close. With a batch size of
// 1 every batch is large enough and nothing is kept back.
func batchLen(b, ready int, flushing bool) int {
	switch {
	case flushing || b <= 1:
		return ready
	case ready >= 2*b:
		return ready - b
	}
	return 0
}

// clockAllows reports whether a batch may be published at now (Unix
// seconds) after one published at modified: the lists grow at most once
// in a second, so that Last-Modified changes with every growth, and not
// while the clock is behind the last growth.
func clockAllows(now, modified int64) bool { return now > modified }
