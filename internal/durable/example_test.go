package durable_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/powvote/powvote/internal/durable"
)

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "durable-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A secret file: mode 0600 from its first byte, and once WriteFile
	// returns, on disk with its name.
	path := filepath.Join(dir, "totp.seed")
	if err := durable.WriteFile(path, []byte("c2VjcmV0\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		log.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %q, %d file in the directory\n", fi.Mode(), data, len(entries))
	// Output:
	// -rw------- "c2VjcmV0\n", 1 file in the directory
}
