package listline_test

import (
	"encoding/hex"
	"fmt"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
)

// The worked example of the package documentation, byte for byte.
const (
	exampleVote  = `1767225600 Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 09a733f6d68415da "Énergie solaire"`
	exampleVoter = `11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= u++K575Y7oX/nNprygVLXEKjvZ53DIK4MEBnlCfiN7ksHyPGoEclZ204aFC9Eu/y+N9SCV4xdXNnv2ttf1MTAg== AAECAwQFBgcICQoLDA0ODxAREhMUFRYX`
)

func Example() {
	v, err := listline.ParseVote(exampleVote)
	if err != nil {
		fmt.Println(err)
		return
	}
	score, err := pow.Verify(v.Work(), v.Nonce, 22)
	fmt.Println(v.Option, hex.EncodeToString(v.Nonce), score, err)

	m, err := listline.ParseVoter(exampleVoter)
	if err != nil {
		fmt.Println(err)
		return
	}
	id := m.Mandate()
	fmt.Println(m.Verify(), hex.EncodeToString(id[:4]), hex.EncodeToString(id[32:36]))
	fmt.Println(v.Line() == exampleVote, m.Line() == exampleVoter)
	// Output:
	// Énergie solaire 09a733f6d68415da 22 <nil>
	// true d75a9801 00010203
	// true true
}
