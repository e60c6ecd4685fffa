package stamp_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/powvote/powvote/stamp"
)

func ExampleCheckVoter() {
	key := []byte("powvote example voter-stamp key!")
	putc := "1767225600"
	psig, _ := base64.StdEncoding.DecodeString("Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw==")

	// The edge makes a stamp with each platform stamp it hands out...
	voter, err := stamp.NewVoter(key, rand.Reader, putc, psig)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(voter))

	// ...and checks it when the vote comes back.
	fmt.Println(stamp.CheckVoter(key, voter, putc, psig))

	// The worked example of the package documentation.
	fmt.Println(stamp.CheckVoter(key, "008J-4CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H", putc, psig))

	// The same stamp for another second, and in lower case.
	err = stamp.CheckVoter(key, "008J-4CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H", "1767225601", psig)
	fmt.Println(errors.Is(err, stamp.ErrVoter), err)
	err = stamp.CheckVoter(key, "008j-4ct4-ank7-f24s-naxw-sqfe-zwca-th4h", putc, psig)
	fmt.Println(errors.Is(err, stamp.ErrVoter), err)
	// Output:
	// 39
	// <nil>
	// <nil>
	// true stamp: invalid voter stamp: MAC does not verify
	// true stamp: invalid voter stamp: "j" at offset 3 is not an upper-case Crockford symbol
}

func ExampleParsePUTC() {
	fmt.Println(stamp.ParsePUTC("1767225600"))
	fmt.Println(stamp.ParsePUTC("01767225600"))
	// Output:
	// 1767225600 <nil>
	// 0 stamp: invalid P-UTC: leading zero
}
