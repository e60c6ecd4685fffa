// Package loadtest drives a running platform with votes at a fixed rate and
// then checks that every acknowledged vote was published exactly once. It
// is what `powvote loadtest` runs.
//
// # Preparation
//
// Before the clock starts, Run issues one mandate per vote with the
// authority key, fetches a platform stamp for each through the edge with
// the booth code of the moment, picks the options round-robin from /list
// and solves every proof of work on all cores. None of this is timed: the
// timed phase measures the platform, not the voters' devices. A stamp is
// good for the campaign's maximum stamp age, so Run refuses a run whose
// preparation and duration would outlive it.
//
// # Timed phase
//
// The load is open-loop, as wrk2 and vegeta apply it: vote i is due at
// start + Schedule.At(i) whatever happened to the votes before it, and its
// latency runs from that due time to the answer. A platform that stalls
// therefore shows its stall in every vote that was due during it, instead
// of silently slowing the sender down (coordinated omission). A 503 is
// retried with the same request after a short jittered wait, as a device
// does, and the retry's latency still counts from the original due time.
// Beside the votes, each voter's GET /list and GET /stamp run at the same
// rate and are measured apart; with Config.Adversarial, junk requests
// (replays, proofs of work below the threshold, decoy stamps, forged voter
// stamps) go out too and each must get its expected answer.
//
// # Publication delay
//
// With Config.Follow, one goroutine follows the votes list through the
// edge from the start of the timed phase to the end of the settling, as a
// reader with wget -c would: each look fetches only the bytes past those
// it has (Range: bytes=N-), and the first look that brings the line of an
// acknowledged vote ends that vote's publication delay, which began when
// its acknowledgement arrived (follower, publicationReport). The report
// gives its percentiles and its p99 per minute of acknowledgement time, to
// show whether it stays flat over the run.
//
// # Zero loss
//
// After the timed phase Run downloads the published lists through the
// edge until every acknowledged vote is in them, or Config.Settle passes.
// A vote is in them when its line stands in the votes list and its
// mandate's line in the voters list, each exactly once and byte for byte
// as the run sent it (P-UTC, P-SIG, voter stamp, nonce and option;
// auth-pkey, auth-sig and auth-id), as package listline writes them. A vote of the run whose voter stamp or mandate stands on
// any other line is altered, and fails the run whatever else the lists
// hold.
//
// Until the close the publisher keeps at least a batch of votes and of
// voters back, and publishes only when that leaves at least a batch to
// publish, so the last acknowledged votes of a run wait for company that
// never comes. By default Run sends that company: two batches of filler
// votes, prepared with the others and not counted, after the timed phase,
// which push every measured vote into a batch and are what the publisher
// keeps back; and one more batch, up to three times, each time the lists
// stop growing with no more acknowledged votes missing than the publisher
// may keep back (an acknowledged vote or voter can become final in the
// same round as fillers and be kept back with them, fillerFirst and
// fillerSecond). When every filler is
// acknowledged, the lists settle: every acknowledged vote must then be
// published, and a missing one is lost. Without fillers, or when one of
// them got no 2xx, the last batch may stay incomplete: missing votes no
// more than the publisher may keep back (heldBack: 4 x batch size - 2, for
// the two queues) are reported as pending_batch rather than lost, and
// more than that are all lost. Pending or lost, a missing vote is not
// published and fails the run: the lists did not settle, so the run does
// not show zero loss.
package loadtest
