package mandate_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/powvote/powvote/mandate"
)

func ExampleIssue() {
	// An authority key from a fixed seed (RFC 8032, section 7.1, test 1)
	// and, in place of crypto/rand.Reader, a reader that yields the bytes
	// 0 to 23, so that the output is always the same.
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	priv := ed25519.NewKeyFromSeed(seed)
	random := bytes.NewReader([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23})

	tok, err := mandate.Issue(priv, random)
	if err != nil {
		panic(err)
	}
	for i, line := range tok.Card() {
		fmt.Printf("%2d: %s\n", i+1, line)
	}
	fmt.Println("needle:", tok.Needle())
	// Output:
	//  1: TXD9 G0C2 P45B FNAB =
	//  2: ZV9W JS07 787E 2WQK S
	//  3: VAK2 69DF 08D6 HXR7 J
	//  4: A4DB QVWA WYZ5 HVM5 X
	//  5: ZYED MTYA 0N5N RGN3 4
	//  6: QPF7 E342 Q0R4 0SWM 5
	//  7: 4ZH3 FE9C 3WHW D827 *
	//  8: 4NKP TE38 A2YH 5VZJ T
	//  9: Z3FN 42AY 65TQ 6SXZ Y
	// 10: DDPQ YMRK 0800 20G3 P
	// 11: 0G2G C1R8 1450 P30D $
	// 12: 1R7H 048J 2CA1 A5GQ 7
	// needle: u++K575Y7oX/nNprygVLXE
}

func ExampleParseCard() {
	// A card as a voter might type it: lower case, O for 0, no spaces on
	// some lines, labels on others, and a typo on line 7 (E for F).
	typed := `
1: txd9 gOc2 p45b fnab =
2: ZV9WJS07787E2WQKS
3: VAK2-69DF-08D6-HXR7-J
4: A4DB QVWA WYZ5 HVM5 X
5: ZYED MTYA 0N5N RGN3 4
6: QPF7 E342 Q0R4 0SWM 5
7: 4ZH3 EE9C 3WHW D827 *
8: 4NKP TE38 A2YH 5VZJ T
9: Z3FN 42AY 65TQ 6SXZ Y
10: DDPQ YMRK 0800 20G3 P
11: 0G2G C1R8 1450 P30D $
12: 1R7H 048J 2CA1 A5GQ 7
`
	_, err := mandate.ParseCard(typed)
	fmt.Println(err)

	fixed := strings.Replace(typed, "4ZH3 EE9C", "4ZH3 FE9C", 1)
	tok, err := mandate.ParseCard(fixed)
	if err != nil {
		panic(err)
	}
	fmt.Println("signature:", tok.Verify() == nil)
	fmt.Println("card id:", tok.CardID())
	// Output:
	// mandate: card line 7: check symbol does not match (a typo on this line?)
	// signature: true
	// card id: 000G40R40M30E209185GR38E1W8124GK2GAHC5R
}
