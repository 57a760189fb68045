// Package syncio owns the one writer several goroutines share safely: a
// writer whose writes are serialised, so lines from concurrent writers are
// never interleaved within one Write.
package syncio

import (
	"io"
	"sync"
)

// Writer serialises the writes to W.
type Writer struct {
	mu sync.Mutex
	W  io.Writer
}

func (l *Writer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.W.Write(p)
}
