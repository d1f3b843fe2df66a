package annotations

import "strings"

// Suggest returns the candidate closest to name, for "did you mean"
// messages, when it is a small edit away: at most one edit for names of
// up to 6 characters, two for longer ones (an edit inserts, deletes or
// replaces a character, or swaps two neighbours), ignoring case. ok is
// false when no candidate is that close, or name is one of them.
func Suggest(name string, candidates []string) (best string, ok bool) {
	limit := 1
	if len(name) >= 7 {
		limit = 2
	}
	for _, c := range candidates {
		if c == name {
			return "", false
		}
	}
	best, d := closest(name, candidates, limit)
	return best, d <= limit
}

// Closest returns the candidate closest to name by edit distance, and
// the distance, whatever it is ("" and -1 without candidates).
func Closest(name string, candidates []string) (best string, dist int) {
	if len(candidates) == 0 {
		return "", -1
	}
	longest := len(name)
	for _, c := range candidates {
		longest = max(longest, len(c))
	}
	return closest(name, candidates, longest)
}

// closest returns the first candidate at the smallest distance from name
// (over limit: limit+1), comparing lowercase.
func closest(name string, candidates []string, limit int) (string, int) {
	lower := strings.ToLower(name)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(lower, strings.ToLower(c), limit); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, bestDist
}

// editDistance returns the optimal string alignment distance between a
// and b, or limit+1 when it is over limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
