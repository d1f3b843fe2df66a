package report

// edit is one line of a line diff: kept (' '), removed ('-') or added ('+').
type edit struct {
	op   byte
	text string
}

// maxDiffCells bounds the table of diffLines; larger inputs are shown as
// every old line removed and every new line added.
const maxDiffCells = 1 << 20

// diffLines returns a shortest edit script from a to b, a longest common
// subsequence of lines kept and the rest removed or added, removals
// before additions.
func diffLines(a, b []string) []edit {
	// The common prefix and suffix need no table.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []edit
	for _, l := range a[:pre] {
		out = append(out, edit{' ', l})
	}
	out = append(out, diffMiddle(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, edit{' ', l})
	}
	return out
}

// diffMiddle is diffLines without the shortcut for a common prefix and
// suffix.
func diffMiddle(a, b []string) []edit {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || (n+1)*(m+1) > maxDiffCells {
		return replaceAll(a, b)
	}
	// lcs[i][j] is the length of a longest common subsequence of a[i:]
	// and b[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out, added []edit
	// Additions wait until the next kept line, so that each changed run
	// reads as its removals, then its additions.
	flush := func() {
		out = append(out, added...)
		added = added[:0]
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			flush()
			out = append(out, edit{' ', a[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, edit{'-', a[i]})
			i++
		default:
			added = append(added, edit{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, edit{'-', a[i]})
	}
	flush()
	for ; j < m; j++ {
		out = append(out, edit{'+', b[j]})
	}
	return out
}

// replaceAll is the edit script that removes all of a and adds all of b.
func replaceAll(a, b []string) []edit {
	out := make([]edit, 0, len(a)+len(b))
	for _, l := range a {
		out = append(out, edit{'-', l})
	}
	for _, l := range b {
		out = append(out, edit{'+', l})
	}
	return out
}
