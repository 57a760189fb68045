package relay

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures a wpa_cli request through the relay to the
// simulated guest and back: PING answered by PONG. Besides the mean
// (ns/op), it reports the median round trip (median-ms).
func BenchmarkRoundTrip(b *testing.B) {
	g := newRig(b, Options{})
	c := g.client(b, "bench")
	c.expect("PING", "PONG\n") // connected before measuring
	rtts := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		c.expect("PING", "PONG\n")
		rtts = append(rtts, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2])/float64(time.Millisecond), "median-ms")
}
