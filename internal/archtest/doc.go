// Package archtest holds no code: its test checks the imports of every
// package of the module against the house's layout (STYLE.md), so that
// the one-way flow of dependencies stays as designed.
package archtest
