package guestfake

import (
	"net"
	"sync"
)

// Flood sends msg from conn to to as fast as it can and reads nothing,
// as a client that floods a control socket does, until stop is called;
// stop returns once the sending has ended.
func Flood(conn *net.UnixConn, to *net.UnixAddr, msg string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			conn.WriteToUnix([]byte(msg), to)
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
