// Package archtest holds no code: its tests check the imports of every
// package of the module against the house's layout (STYLE.md), and what
// the use case links through any chain of imports (go list -deps: no
// database driver nor AWS SDK in internal/reconcile), so that the one-way
// flow of dependencies stays as designed.
package archtest
