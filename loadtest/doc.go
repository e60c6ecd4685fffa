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
// # Zero loss
//
// After the timed phase Run downloads the published lists through the
// edge until every acknowledged vote's voter stamp is in the votes list and
// its mandate in the voters list, or Config.Settle passes. The publisher
// publishes only batches of at least the campaign's batch size before the
// close, so up to batch size - 1 acknowledged votes may wait for company
// that never comes. By default Run sends that company: batch-size filler
// votes, prepared with the others and not counted, after the timed phase,
// which push every measured vote into a batch; and a second batch of them
// if the lists then stop growing with fewer than a batch of acknowledged
// votes missing (the two queues of the publisher can leave one vote's
// voter behind a filler's, fillerRounds). Without fillers, missing
// votes fewer than a batch are reported as pending_batch rather than lost;
// more than that are all lost.
package loadtest
