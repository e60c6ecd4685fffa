// Package qrscan reads the QR codes the platform draws back into bytes,
// for tests: mandate images, cards and the station desk's answers. It
// reports the raw byte-mode segments and the error correction level, so
// that a test sees exactly what a reader would get.
package qrscan

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// Result is what a read found.
type Result struct {
	Segments [][]byte // byte-mode segments, in order
	Level    string   // error correction level: L, M, Q or H
	Pure     bool     // read by the whole-image fallback, see Scan
}

// ErrUnreadable means no QR code could be read from the image.
var ErrUnreadable = errors.New("qrscan: no QR code read")

// Scan finds and reads the QR code in a PNG image, first as a camera
// reader does (locating the finder patterns anywhere in the image,
// trying hard when tryHard is set). About one random mandate code in fifty
// defeats the finder-pattern search of the Go port of ZXing used here
// (its detector takes data modules for a finder pattern) while jsQR, the
// voter app's reader, reads every one; for an image that holds nothing
// but one code on its quiet zone, Scan then reads the modules directly
// and sets Pure.
func Scan(pngData []byte, tryHard bool) (Result, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return Result{}, fmt.Errorf("qrscan: %w", err)
	}
	return ScanImage(img, tryHard)
}

// PNGDataURI decodes the image of a "data:image/png;base64," URI, the form
// in which the station desk hands out a card's QR code.
func PNGDataURI(uri string) (image.Image, error) {
	b64, ok := strings.CutPrefix(uri, "data:image/png;base64,")
	if !ok {
		return nil, fmt.Errorf("qrscan: not a PNG data URI: %.40s", uri)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("qrscan: data URI: %w", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("qrscan: data URI: %w", err)
	}
	return img, nil
}

// ScanImage is Scan for a decoded image.
func ScanImage(img image.Image, tryHard bool) (Result, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return Result{}, fmt.Errorf("qrscan: %w", err)
	}
	hints := map[gozxing.DecodeHintType]any{}
	if tryHard {
		hints[gozxing.DecodeHintType_TRY_HARDER] = true
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, hints)
	pure := false
	if err != nil {
		var perr error
		res, perr = zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		if perr != nil {
			return Result{}, fmt.Errorf("%w: %v; as a pure code: %v", ErrUnreadable, err, perr)
		}
		pure = true
	}
	md := res.GetResultMetadata()
	segs, _ := md[gozxing.ResultMetadataType_BYTE_SEGMENTS].([][]byte)
	lvl, _ := md[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return Result{Segments: segs, Level: lvl, Pure: pure}, nil
}
