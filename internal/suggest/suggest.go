// Package suggest owns how wifibox names the word meant when one typed is
// unknown (a command, an option, a target): the valid word nearest to it.
package suggest

import "strings"

// Nearest gives the valid word nearest to word when word is near enough
// to be a typo of it (a third of its letters wrong, one at least right),
// its beginning (two letters at least), or the word in other case
// (STATUS); "" when none is.
func Nearest(word string, valid []string) string {
	w := strings.ToLower(strings.TrimLeft(word, "-"))
	best, bestDist := "", -1
	for _, v := range valid {
		t := strings.ToLower(strings.TrimLeft(v, "-"))
		d := distance(w, t)
		if len(w) > 1 && strings.HasPrefix(t, w) {
			d = 0 // a beginning is the nearest there is
		} else if d > max(1, len(t)/3) || d >= len(t) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// distance is the optimal string alignment distance: the edits (insert,
// delete, substitute, swap two neighbours) that turn a into b.
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
