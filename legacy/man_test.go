package legacy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/wifibox/wifibox/internal/mantest"
)

// TestManualTitles: the titles wifibox(8) quotes for the shell
// implementation's processes are, once rendered, those recognised.
func TestManualTitles(t *testing.T) {
	man := mantest.Render(t, "../man/wifibox.8")
	quoted := regexp.MustCompile(`‘(daemon: [^’]*)’`).FindAllStringSubmatch(man, -1)
	for _, title := range []*regexp.Regexp{managerTitle, relayTitle} {
		found := false
		for _, q := range quoted {
			found = found || title.MatchString(strings.ReplaceAll(q[1], "[pid]", "[1234]"))
		}
		if !found {
			t.Errorf("the manual quotes no title %s; its daemon titles: %q", title, quoted)
		}
	}
}
