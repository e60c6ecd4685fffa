package entropy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

func TestRead(t *testing.T) {
	fixed := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name    string
		r       io.Reader
		n       int
		want    []byte // nil: any bytes
		wantErr error
	}{
		{"fixed bytes", bytes.NewReader(fixed), 32, fixed, nil},
		{"fewer than asked", bytes.NewReader(fixed[:15]), 16, nil, io.ErrUnexpectedEOF},
		{"nothing", bytes.NewReader(nil), 16, nil, io.EOF},
		{"crypto/rand", rand.Reader, 32, nil, nil},
	}
	for _, tt := range tests {
		b := make([]byte, tt.n)
		err := Read(tt.r, b)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Read = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if tt.want != nil && !bytes.Equal(b, tt.want) {
			t.Errorf("%s: read %q, want %q", tt.name, b, tt.want)
		}
	}
}

// TestReadSystemFills: two reads of crypto/rand give 32 bytes each, not
// zero and not the same: the fast path does read.
func TestReadSystemFills(t *testing.T) {
	var a, b [32]byte
	if err := Read(rand.Reader, a[:]); err != nil {
		t.Fatal(err)
	}
	if err := Read(rand.Reader, b[:]); err != nil {
		t.Fatal(err)
	}
	if a == [32]byte{} || a == b {
		t.Fatalf("crypto/rand gave %x then %x", a, b)
	}
}

// TestReadSystemAllocs is the package's reason to be: reading crypto/rand
// into a stack array costs no allocation; a reader of another kind does.
func TestReadSystemAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's crypto/rand allocates")
	}
	if n := testing.AllocsPerRun(100, func() {
		var b [32]byte
		if err := Read(rand.Reader, b[:]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Read(crypto/rand.Reader) into a stack array: %v allocations, want 0", n)
	}
	other := bytes.NewReader(make([]byte, 1<<20))
	if n := testing.AllocsPerRun(100, func() {
		var b [32]byte
		if err := Read(other, b[:]); err != nil {
			t.Fatal(err)
		}
	}); n == 0 {
		t.Errorf("Read(another reader): no allocation; the test does not see the escape it guards against")
	}
}
