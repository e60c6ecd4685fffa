package mandate

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"rsc.io/qr/coding"
)

// qrModules is the width in modules of a token's QR code: 120 bytes need
// version 11 at level H.
const qrModules = 61

// quietZone is the light border, in modules, that readers need around a
// QR code; the standard asks for 4.
const quietZone = 4

// qrVersion is the smallest QR version whose level H capacity holds a
// token in one byte-mode segment (4 bits of mode, 16 of count, 960 of data).
const qrVersion coding.Version = 11

// qrCode returns the QR code of the token: its bytes in one byte-mode
// segment at level H. Encoders that choose data modes themselves (go-qrcode
// among them) move runs of digits or capitals into numeric or alphanumeric
// segments, after which readers that report a code's bytes no longer return
// the token; rsc.io/qr/coding encodes exactly the segment it is given.
func (t Token) qrCode() *coding.Code {
	seg := coding.String(t.Bytes())
	if seg.Bits(qrVersion) > qrVersion.DataBytes(coding.H)*8 {
		panic("mandate: a token does not fit its QR version") // broken invariant: sizes are constants
	}
	c, err := bestMaskCode(qrVersion, seg)
	if err != nil {
		panic(fmt.Sprintf("mandate: QR code of a token: %v", err))
	}
	return c
}

// drawQR draws c with its quiet zone into dst, whose background must be
// white, with the top left corner of the quiet zone at at and scale pixels
// per module.
func drawQR(dst *image.Gray, c *coding.Code, at image.Point, scale int) {
	for y := range c.Size {
		for x := range c.Size {
			if !c.Black(x, y) {
				continue
			}
			px := at.X + (x+quietZone)*scale
			py := at.Y + (y+quietZone)*scale
			for dy := range scale {
				i := dst.PixOffset(px, py+dy)
				clear(dst.Pix[i : i+scale])
			}
		}
	}
}

// whiteGray returns a white image of the given size.
func whiteGray(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	return img
}

// QRPNG returns a PNG image, size pixels square, of the token's QR code:
// its 120 bytes in a single byte-mode segment at error correction level H.
// Each module is a whole number of pixels so that the edges stay sharp; the
// code is centred with at least its quiet zone around it. size must leave
// at least one pixel per module, 69 for a version 11 code.
func (t Token) QRPNG(size int) ([]byte, error) {
	c := t.qrCode()
	modules := c.Size + 2*quietZone
	scale := size / modules
	if scale < 1 {
		return nil, fmt.Errorf("mandate: QR image of %d pixels is too small, want at least %d", size, modules)
	}
	img := whiteGray(size, size)
	off := (size - modules*scale) / 2
	drawQR(img, c, image.Pt(off, off), scale)
	return encodePNG(img)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mandate: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// monoFont is Go Mono, whose 0 is slashed and O is not and whose 1 and l
// differ clearly, parsed once: a parsed font may be shared, a face may not.
var monoFont = sync.OnceValues(func() (*opentype.Font, error) {
	return opentype.Parse(gomono.TTF)
})

// Card image layout, in pixels.
const (
	cardWidth    = 640
	cardMargin   = 32
	cardQRScale  = 8 // 69 modules with the quiet zone: 552 pixels
	cardTextSize = 26
	cardLineStep = 38
	cardSmall    = 18
)

// CardPNG returns a printable image of the card: the QR code, the lookup
// needle, the 12 numbered lines and the card id, in Go Mono. It is safe to
// call from several goroutines at once.
func (t Token) CardPNG() ([]byte, error) {
	f, err := monoFont()
	if err != nil {
		return nil, fmt.Errorf("mandate: parsing Go Mono: %w", err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: cardTextSize, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("mandate: font face: %w", err)
	}
	defer face.Close()
	smallFace, err := opentype.NewFace(f, &opentype.FaceOptions{Size: cardSmall, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("mandate: font face: %w", err)
	}
	defer smallFace.Close()

	c := t.qrCode()
	qrSide := (c.Size + 2*quietZone) * cardQRScale
	height := cardMargin + qrSide + 2*cardLineStep + CardLines*cardLineStep + 2*cardLineStep + cardMargin
	img := whiteGray(cardWidth, height)
	drawQR(img, c, image.Pt((cardWidth-qrSide)/2, cardMargin), cardQRScale)

	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black)}
	// centred draws s centred on the baseline y.
	centred := func(face font.Face, s string, y int) {
		d.Face = face
		w := d.MeasureString(s).Ceil()
		d.Dot = fixed.P((cardWidth-w)/2, y)
		d.DrawString(s)
	}
	y := cardMargin + qrSide + cardLineStep
	centred(face, t.Needle(), y)
	y += cardLineStep
	lines := t.Card()
	for i, l := range lines {
		y += cardLineStep
		centred(face, fmt.Sprintf("%2d: %s", i+1, l), y)
	}
	y += 2 * cardLineStep
	centred(smallFace, "card "+t.CardID(), y)
	return encodePNG(img)
}
