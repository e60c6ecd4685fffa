package totp_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/powvote/powvote/totp"
)

func ExampleBoothCode() {
	seed := []byte("12345678901234567890123456789012") // a campaign's 32-byte seed
	now := time.Date(2026, 5, 17, 9, 30, 12, 0, time.UTC)

	code, err := totp.BoothCode(seed, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(totp.FormatBooth(code))
	fmt.Println("changes in", totp.Remaining(now), "warn:", totp.Warn(now))
	// Output:
	// 8 912 756
	// changes in 18s warn: false
}

func ExampleParseBoothCode() {
	for _, typed := range []string{"6 263 917", "a000 019", "6 263 918", "6 263 91"} {
		digits, err := totp.ParseBoothCode(typed)
		switch {
		case errors.Is(err, totp.ErrCheck):
			fmt.Printf("%-10q check failed: ask the voter to look again\n", typed)
		case errors.Is(err, totp.ErrFormat):
			fmt.Printf("%-10q not a booth code: %v\n", typed, err)
		default:
			fmt.Printf("%-10q send TOTP: %s\n", typed, digits)
		}
	}
	// Output:
	// "6 263 917" send TOTP: 263917
	// "a000 019" send TOTP: 000019
	// "6 263 918" check failed: ask the voter to look again
	// "6 263 91" not a booth code: totp: malformed booth code: 6 characters, want 7
}

func ExampleDeploymentMap_Provision() {
	seed := []byte("12345678901234567890123456789012")
	// Deterministic here so that the output is stable; in production pass
	// nil for crypto/rand.
	random := rand.NewChaCha8([32]byte{})

	m := &totp.DeploymentMap{Campaign: "solar"}
	id, kek, err := m.Provision("Flying Demo", seed, random)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("generator", id, "at Flying Demo")

	// id and kek go into the generator's secure element; m is published.
	// Inside the generator, the seed comes back from the map:
	got, err := m.Seed("Flying Demo", kek)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same seed:", bytes.Equal(got, seed))

	// Any other key fails.
	_, err = m.Seed("Flying Demo", make([]byte, totp.KEKSize))
	fmt.Println("wrong KEK:", errors.Is(err, totp.ErrWrongKEK))
	// Output:
	// generator V63Q-XKKD-6T5A-R6KF at Flying Demo
	// same seed: true
	// wrong KEK: true
}
