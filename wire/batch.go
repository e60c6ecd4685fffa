package wire

// Limits and spellings of POST /votes between the edge and a collector
// (docs/INTERNAL.md): the edge writes batches within them and the
// collector refuses any beyond them, so both read them here.
const (
	// MaxBatchVotes is the most votes one batch carries.
	MaxBatchVotes = 1024
	// MaxBatchBody is the most bytes of one batch's body.
	MaxBatchBody = 1 << 20
	// NoDecoys stands for an absent Decoys header in a line of a batch:
	// "." is not a character of a decoys list.
	NoDecoys = "."
)
