package imgdecode

import (
	"bytes"
	"image"
	"image/jpeg"
	"sync"
	"testing"
)

var (
	phoneOnce sync.Once
	phone     []byte
)

// phoneJPEG returns a 12-megapixel (4000×3000) photo-like JPEG as a phone
// writes it: image/jpeg's encoder, quality 90, 4:2:0.
func phoneJPEG(b *testing.B) []byte {
	phoneOnce.Do(func() {
		const w, h = 4000, 3000
		px := photo(w, h, 12)
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, px(x, y))
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			b.Fatal(err)
		}
		phone = buf.Bytes()
	})
	return phone
}

// BenchmarkDecode decodes each worst case and a normal 12 MP phone photo to
// the liveness check's working size (longest side 960), with this package
// ("imgdecode") and as FaceVault did before ("standard": image/jpeg or
// image/png, then the scaleDown area filter). B/op is what the decode
// allocates; Cost-MB is what ReadHeader's Cost promised for it.
func BenchmarkDecode(b *testing.B) {
	cases := append([]worstCase{{"phone-12MP", phoneJPEG(b)}}, worstCases()...)
	for _, c := range cases {
		hdr, err := ReadHeader(c.data)
		if err != nil {
			b.Fatal(err)
		}
		ow, oh := FitWithin(hdr.Width, hdr.Height, 960)
		b.Run(c.name+"/imgdecode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := Decode(c.data, ow, oh); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(hdr.Cost(ow, oh))/1e6, "Cost-MB")
		})
		b.Run(c.name+"/standard", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				img, _, err := image.Decode(bytes.NewReader(c.data))
				if err != nil {
					b.Fatal(err)
				}
				scaleDown(img, ow, oh)
			}
		})
	}
}
