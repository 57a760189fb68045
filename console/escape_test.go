package console

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEscaper feeds what a user types, in the chunks reads return, and
// checks what reaches the guest and what the user asked for.
func TestEscaper(t *testing.T) {
	tests := []struct {
		name   string
		esc    byte
		chunks []string
		sent   string
		acts   []action // the actions in order; leave ends the feeding
		eof    bool     // the input ended after the chunks
	}{
		{name: "plain bytes", chunks: []string{"ls -l\r"}, sent: "ls -l\r"},
		{name: "leave at the very start", chunks: []string{"~.after"}, acts: []action{leave}},
		{name: "leave after carriage return", chunks: []string{"a\r~.b"}, sent: "a\r", acts: []action{leave}},
		{name: "leave after newline", chunks: []string{"a\n~.b"}, sent: "a\n", acts: []action{leave}},
		{name: "escape mid-line is data", chunks: []string{"a~.b~~c~?"}, sent: "a~.b~~c~?"},
		{name: "double escape sends one", chunks: []string{"~~.\r"}, sent: "~.\r"},
		{name: "escape and anything else sends both", chunks: []string{"~x~."}, sent: "~x~."},
		{name: "escape then carriage return starts a line", chunks: []string{"~\r~."}, sent: "~\r", acts: []action{leave}},
		{name: "help keeps the line start", chunks: []string{"~?~?~."}, acts: []action{help, help, leave}},
		{name: "escape split across reads", chunks: []string{"a\r~", ".b"}, sent: "a\r", acts: []action{leave}},
		{name: "double escape split across reads", chunks: []string{"~", "~", "."}, sent: "~."},
		{name: "held escape at end of input is sent", chunks: []string{"a\n~"}, sent: "a\n~", eof: true},
		{name: "other escape character", esc: '%', chunks: []string{"~.\r%%\r%."}, sent: "~.\r%\r", acts: []action{leave}},
		{name: "all byte values mid-line", chunks: []string{"x" + allBytes()}, sent: "x" + allBytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			esc := tt.esc
			if esc == 0 {
				esc = '~'
			}
			e := newEscaper(esc)
			var sent strings.Builder
			var acts []action
		feeding:
			for _, c := range tt.chunks {
				for p := []byte(c); len(p) > 0; {
					send, act, rest := e.feed(p)
					sent.Write(send)
					if act != none {
						acts = append(acts, act)
					}
					if act == leave {
						break feeding
					}
					p = rest
				}
			}
			if tt.eof {
				sent.Write(e.flush())
			}
			if diff := cmp.Diff(tt.sent, sent.String()); diff != "" {
				t.Errorf("sent to the guest (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.acts, acts); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelpText(t *testing.T) {
	want := "%.  leave the session\r\n%%  send one %\r\n%?  this list\r\n"
	if got := helpText('%', "\r\n"); got != want {
		t.Errorf("helpText = %q, want %q", got, want)
	}
}

// allBytes is every byte value once, in order.
func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}
