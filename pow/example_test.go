package pow_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/powvote/powvote/pow"
)

func ExampleVerify() {
	// The headers of a vote, decoded: P-SIG from base64, the nonce from the
	// path, the option text from its percent-encoding.
	sig, _ := base64.StdEncoding.DecodeString("Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw==")
	w := pow.Work{
		PUTC:  "1767225600",
		PSig:  sig,
		Voter: "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ",
		Say:   "Énergie solaire",
	}
	nonce, _ := hex.DecodeString("09a733f6d68415da")

	score, err := pow.Verify(w, nonce, 20)
	fmt.Println(score, err)

	_, err = pow.Verify(w, nonce, 25)
	fmt.Println(errors.Is(err, pow.ErrBelowThreshold), err)

	_, err = pow.Verify(w, nonce[:7], 20)
	fmt.Println(errors.Is(err, pow.ErrNonceLength), err)
	// Output:
	// 22 <nil>
	// true pow: proof of work below threshold: score 22, threshold 25
	// true pow: nonce length out of range: 7 bytes, want 8 to 32
}

func ExampleSolver_Solve() {
	sig, _ := base64.StdEncoding.DecodeString("Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw==")
	w := pow.Work{
		PUTC:  "1767225600",
		PSig:  sig,
		Voter: "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ",
		Say:   "Énergie solaire",
	}
	// A fixed start and a single worker make the search repeatable; real
	// callers leave Rand nil and Workers 0.
	s := &pow.Solver{Workers: 1, Rand: bytes.NewReader([]byte("powvote!"))}
	res, err := s.Solve(context.Background(), w, 12)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("GET /%x after %d hashes, score %d\n", res.Nonce, res.Hashes, res.Score)

	score, err := pow.Verify(w, res.Nonce, 12)
	fmt.Println(score, err)
	// Output:
	// GET /706f77766f74b504 after 20452 hashes, score 13
	// 13 <nil>
}
