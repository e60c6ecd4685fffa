package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrReceipt means a receipt's signature does not verify.
var ErrReceipt = errors.New("wire: receipt signature does not verify")

// ReceiptMessage is what Receipt-Sig signs (PROTOCOL.md 6): the campaign
// name, a line feed, and the receipt lines (the ReceiptNN header values, in
// ballot order) joined by line feeds.
func ReceiptMessage(campaign string, lines []string) []byte {
	return []byte(campaign + "\n" + strings.Join(lines, "\n"))
}

// SignReceipt returns the base64 Receipt-Sig of lines.
func SignReceipt(key ed25519.PrivateKey, campaign string, lines []string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, ReceiptMessage(campaign, lines)))
}

// VerifyReceipt checks a base64 Receipt-Sig over lines.
func VerifyReceipt(pub ed25519.PublicKey, campaign string, lines []string, sig string) error {
	// One spelling: the decoder skips line breaks, which no signature
	// written by SignReceipt holds.
	raw, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize || base64.StdEncoding.EncodeToString(raw) != sig {
		return fmt.Errorf("%w: not a base64 Ed25519 signature", ErrReceipt)
	}
	if !ed25519.Verify(pub, ReceiptMessage(campaign, lines), raw) {
		return ErrReceipt
	}
	return nil
}

// FormatReceipt writes a receipt as a voter saves it: header-style lines
// that a person can read and a program can check, one per ReceiptNN, then
// Receipt-Sig, each ending in a line feed, with the campaign first.
//
//	Campaign: solar
//	Receipt01: 8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ Bold Jupiter
//	...
//	Receipt-Sig: <base64>
func FormatReceipt(campaign string, lines []string, sig string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Campaign: %s\n", campaign)
	for i, l := range lines {
		fmt.Fprintf(&b, "Receipt%02d: %s\n", i+1, l)
	}
	fmt.Fprintf(&b, "Receipt-Sig: %s\n", sig)
	return b.String()
}

// ParseReceipt reads what FormatReceipt writes. Lines must come in order,
// Receipt01 first, and nothing else may stand in the file but blank lines.
func ParseReceipt(text string) (campaign string, lines []string, sig string, err error) {
	seenCampaign, seenSig := false, false
	for n, l := range strings.Split(text, "\n") {
		// A line may end in CR LF; no other control character belongs in
		// a receipt (the option texts of a ballot hold none), and one
		// would not survive FormatReceipt and ParseReceipt again.
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if i := strings.IndexFunc(l, isControl); i >= 0 {
			return "", nil, "", fmt.Errorf("wire: receipt line %d: control character %q", n+1, l[i])
		}
		k, v, ok := strings.Cut(l, ": ")
		switch {
		case !ok:
			return "", nil, "", fmt.Errorf("wire: receipt line %d: no \"name: value\"", n+1)
		case seenSig:
			return "", nil, "", fmt.Errorf("wire: receipt line %d: after Receipt-Sig", n+1)
		case k == "Campaign" && !seenCampaign && len(lines) == 0:
			campaign, seenCampaign = v, true
		case k == "Receipt-Sig":
			sig, seenSig = v, true
		case k == fmt.Sprintf("Receipt%02d", len(lines)+1) && len(lines) < 99:
			lines = append(lines, v)
		default:
			return "", nil, "", fmt.Errorf("wire: receipt line %d: unexpected %q", n+1, k)
		}
	}
	switch {
	case !seenCampaign:
		return "", nil, "", errors.New("wire: receipt has no Campaign line")
	case len(lines) == 0:
		return "", nil, "", errors.New("wire: receipt has no Receipt01 line")
	case !seenSig:
		return "", nil, "", errors.New("wire: receipt has no Receipt-Sig line")
	}
	return campaign, lines, sig, nil
}

// isControl reports a C0 control character or DEL.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ErrRetraction means a retraction's signature does not verify.
var ErrRetraction = errors.New("wire: retraction signature does not verify")

// retractionDomain starts every retraction message. A campaign name holds
// no space (campaign.ValidateName), so no receipt message (ReceiptMessage)
// starts with it: the receipt key's two kinds of signature cannot be
// taken for each other.
const retractionDomain = "powvote retraction v1"

// RetractionMessage is what a retraction's signature signs: the binding,
// by the platform's receipt key, of a vote an instance retracted by mirror
// rule 3 (docs/MIRRORS.md) to the vote that won for the same mandate,
//
//	powvote retraction v1\n<campaign>\n<retracted vote line>\n<winning vote line>\n
//
// with both votes as the votes list writes them (PROTOCOL.md 8, package
// listline). The receipt of the retracted vote is signed by the same key,
// so its holder can hold the platform to both.
func RetractionMessage(campaign, retracted, winner string) []byte {
	return []byte(retractionDomain + "\n" + campaign + "\n" + retracted + "\n" + winner + "\n")
}

// SignRetraction returns the 64-byte signature of RetractionMessage.
func SignRetraction(key ed25519.PrivateKey, campaign, retracted, winner string) []byte {
	return ed25519.Sign(key, RetractionMessage(campaign, retracted, winner))
}

// VerifyRetraction checks a retraction's signature.
func VerifyRetraction(pub ed25519.PublicKey, campaign, retracted, winner string, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize ||
		!ed25519.Verify(pub, RetractionMessage(campaign, retracted, winner), sig) {
		return ErrRetraction
	}
	return nil
}
