package relay

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A message as the tests write it: "E:" before an event, "R:" before a
// reply.
func show(msgs []message) []string {
	var out []string
	for _, m := range msgs {
		kind := "R:"
		if m.event {
			kind = "E:"
		}
		out = append(out, kind+string(m.data))
	}
	return out
}

func TestSplitter(t *testing.T) {
	long := strings.Repeat("k=v\n", shortRead/4) // a read of shortRead bytes may go on
	for _, tc := range []struct {
		name     string
		reads    []string
		awaiting bool
		want     []string
		pending  string
	}{
		{"reply", []string{"PONG\n"}, true, []string{"R:PONG\n"}, ""},
		{"reply then event", []string{"OK\n<3>Associated with 02:00:00:00:01:00"}, true,
			[]string{"R:OK\n", "E:<3>Associated with 02:00:00:00:01:00"}, ""},
		{"two events", []string{"<3>Associated with 02:00:00:00:01:00<3>CTRL-EVENT-SUBNET-STATUS-UPDATE status=0"}, false,
			[]string{"E:<3>Associated with 02:00:00:00:01:00", "E:<3>CTRL-EVENT-SUBNET-STATUS-UPDATE status=0"}, ""},
		{"events then the fixed reply", []string{"<3>CTRL-EVENT-DISCONNECTED reason=3<3>CTRL-EVENT-DSCP-POLICY clear_allOK\n"}, true,
			[]string{"E:<3>CTRL-EVENT-DISCONNECTED reason=3", "E:<3>CTRL-EVENT-DSCP-POLICY clear_all", "R:OK\n"}, ""},
		{"no reply awaited: an event", []string{"<3>X clear_allOK\n"}, false, []string{"E:<3>X clear_allOK\n"}, ""},
		{"FAIL after an event", []string{"<4>W-FAIL-X FAIL\n"}, true, []string{"E:<4>W-FAIL-X ", "R:FAIL\n"}, ""},
		{"a level of two digits", []string{"<12>A<3>B"}, false, []string{"E:<12>A", "E:<3>B"}, ""},
		{"no event: <x>, <>, <123>", []string{"a<x>b<>c<123>d\n"}, true, []string{"R:a<x>b<>c<123>d\n"}, ""},
		{"a long read may go on", []string{long}, true, nil, long},
		{"its rest", []string{long, "x=y\n"}, true, []string{"R:" + long + "x=y\n"}, ""},
		{"an event ends it", []string{long, "<3>E"}, true, []string{"R:" + long, "E:<3>E"}, ""},
		{"a marker across reads", []string{long + "<", "3>E"}, true, []string{"R:" + long, "E:<3>E"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s splitter
			var got []message
			for _, r := range tc.reads {
				got = append(got, s.cut([]byte(r), tc.awaiting)...)
			}
			if diff := cmp.Diff(tc.want, show(got)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if string(s.pending) != tc.pending {
				t.Errorf("pending %q, want %q", s.pending, tc.pending)
			}
			if tc.pending != "" {
				if got := show(s.flush(tc.awaiting)); !cmp.Equal(got, []string{"R:" + tc.pending}) {
					t.Errorf("flush: %q", got)
				}
			}
		})
	}
}

func TestEventLevel(t *testing.T) {
	for in, want := range map[string]int{"<0>a": 0, "<3>CTRL": 3, "<12>x": 12} {
		if got := level([]byte(in)); got != want {
			t.Errorf("level(%q) = %d, want %d", in, got, want)
		}
	}
}
