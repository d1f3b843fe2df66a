package collector

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const cartSchema = `@namespace("shop") protocol Cart { record AddToCart { string sku; int quantity; } }`

// schemaDir writes files into a new directory.
func schemaDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	return dir
}

func TestRegistryReloadKeepsLastGood(t *testing.T) {
	dir := schemaDir(t, map[string]string{"cart.avdl": cartSchema})
	m := newFakeMeter()
	reg, err := NewRegistry(dir, m, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"shop.AddToCart"}, reg.Types())

	broken := `@namespace("shop") protocol Cart { record AddToCart { string sku; int quantity } }`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cart.avdl"), []byte(broken), 0o644))
	err = reg.Reload()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cart.avdl:1:")
	assert.Equal(t, []string{"shop.AddToCart"}, reg.Types(), "the last good set stays")
	assert.NotNil(t, reg.current().byName["AddToCart"])
	assert.Equal(t, 1, m.reloadErrs)

	fixed := `@namespace("shop") protocol Cart { record AddToCart { string sku; int quantity; } record RemoveFromCart { string sku; } }`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cart.avdl"), []byte(fixed), 0o644))
	require.NoError(t, reg.Reload())
	assert.Equal(t, []string{"shop.AddToCart", "shop.RemoveFromCart"}, reg.Types())
	assert.Equal(t, 2, m.reloads)
	assert.Equal(t, 2, m.types)
}

func TestRegistryStartErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		msg   string
	}{
		{"syntax", map[string]string{"a.avdl": `protocol P { record R { int x } }`}, "a.avdl:1:"},
		{"no records", map[string]string{"a.avdl": `protocol P { enum E { A } }`}, "no record types found"},
		{"empty dir", nil, "no record types found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newFakeMeter()
			_, err := NewRegistry(schemaDir(t, tt.files), m, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Equal(t, 1, m.reloadErrs)
		})
	}
	_, err := NewRegistry(filepath.Join(t.TempDir(), "missing"), newFakeMeter(), nil)
	require.Error(t, err)
}

func TestRegistryAmbiguousSimpleName(t *testing.T) {
	dir := schemaDir(t, map[string]string{
		"a.avdl": `@namespace("a") protocol A { record Event { string x; } }`,
		"b.avdl": `@namespace("b") protocol B { record Event { string y; } }`,
	})
	reg, err := NewRegistry(dir, newFakeMeter(), nil)
	require.NoError(t, err)
	set := reg.current()
	assert.Nil(t, set.byName["Event"], "an ambiguous simple name addresses nothing")
	assert.NotNil(t, set.byName["a.Event"])
	assert.NotNil(t, set.byName["b.Event"])
	assert.Equal(t, "Event", set.byName["b.Event"].name, "counted under the simple name")
}

func TestRegistryWatchReloadsOnChange(t *testing.T) {
	dir := schemaDir(t, map[string]string{"cart.avdl": cartSchema})
	reg, err := NewRegistry(dir, newFakeMeter(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, reg.Watch(ctx, 20*time.Millisecond)) })
	defer func() { cancel(); wg.Wait() }()

	// Let the watcher start, then add a file.
	require.Eventually(t, func() bool {
		_ = os.WriteFile(filepath.Join(dir, "search.avdl"), []byte(`@namespace("shop") protocol S { record Searched { string q; } }`), 0o644)
		return len(reg.Types()) == 2
	}, 5*time.Second, 50*time.Millisecond)
	assert.Equal(t, []string{"shop.AddToCart", "shop.Searched"}, reg.Types())
}
