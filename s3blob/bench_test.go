package s3blob

import (
	"fmt"
	"testing"

	"github.com/facevault/facevault/internal/blobtest"
)

// BenchmarkCommit measures an upload: Create, Write in 32 KiB chunks as the
// HTTP handler does, Commit (a PUT streamed from the spool file, the size
// check, the spool file's destruction). 4 MiB is the largest image
// accepted, 40 KiB a small one: B/op barely changes between them, since the
// image is never held in memory. Each blob is deleted, untimed.
func BenchmarkCommit(b *testing.B) {
	s, _ := newStore(b, "")
	for _, size := range []int{40 << 10, 4 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			data := blobtest.Data(size)
			ctx := b.Context()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				key := newKey()
				w, err := s.Create(ctx, key)
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < size; off += 32 << 10 {
					if _, err := w.Write(data[off:min(off+32<<10, size)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.Delete(ctx, key); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
