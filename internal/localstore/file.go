package localstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/esm-dev/esm/internal/monitor"
)

// Version is the version of the state file format this package reads and
// writes. A file of another version is rejected, not rewritten.
const Version = 1

// state is the content of a state file, with the monitors sorted by ID.
type state struct {
	NextID   int64
	Monitors []monitor.Monitor
}

// emptyState is the state of a store without a file.
func emptyState() *state { return &state{NextID: 1} }

// fileJSON is the JSON form of the state file. Each monitor is encoded
// from the table of owned fields (monitor.Owned): "id", then every owned
// field at its dotted path ("options.thresholds.critical" inside
// "options" and "thresholds"), in the table's order. Field names follow
// Datadog's monitor API; unset values and false flags are left out, so
// that the file stays short. The fingerprint of what esm last wrote
// (monitor.Monitor.Fingerprint) is kept as Datadog keeps it: the tag
// esm_fingerprint:<fingerprint>, last in "tags".
type fileJSON struct {
	Version  int               `json:"version"`
	NextID   int64             `json:"next_id"`
	Monitors []json.RawMessage `json:"monitors"`
}

// alwaysWritten are the objects the format writes even when empty.
var alwaysWritten = map[string]bool{"options": true, "options.thresholds": true}

// objects are the paths of the objects that hold owned fields:
// "options", "options.thresholds", "options.threshold_windows".
var objects = func() map[string]bool {
	out := map[string]bool{}
	for _, f := range monitor.Owned {
		parts := strings.Split(f.Name, ".")
		for i := 1; i < len(parts); i++ {
			out[strings.Join(parts[:i], ".")] = true
		}
	}
	return out
}()

// object is a JSON object that keeps its keys in insertion order.
type object struct {
	keys []string
	vals map[string]any
	// always writes the object even when it has no members.
	always bool
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) set(key string, v any) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// child returns the object at key, adding it when missing.
func (o *object) child(key string) *object {
	if c, ok := o.vals[key].(*object); ok {
		return c
	}
	c := newObject()
	o.set(key, c)
	return c
}

// MarshalJSON writes the members in order, without HTML escapes: queries
// hold ">=", messages "<" and "&".
func (o *object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	n := 0
	for _, k := range o.keys {
		v := o.vals[k]
		if c, ok := v.(*object); ok && len(c.keys) == 0 && !c.always {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		if err := enc.Encode(k); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// encodeMonitor returns m as the state file holds it.
func encodeMonitor(m *monitor.Monitor) *object {
	root := newObject()
	root.set("id", m.ID)
	for _, f := range monitor.Owned {
		parts := strings.Split(f.Name, ".")
		o := root
		for i, p := range parts[:len(parts)-1] {
			o = o.child(p)
			o.always = alwaysWritten[strings.Join(parts[:i+1], ".")]
		}
		v := f.Value(&m.Definition)
		var val any
		switch f.Kind {
		case monitor.ListField:
			var items []string
			if v != "" {
				items = strings.Split(v, ", ")
			}
			if f.Name == "tags" {
				items = monitor.WithFingerprintTag(items, m.Fingerprint)
			}
			if len(items) > 0 {
				val = items
			}
		case monitor.NumberField:
			if v != "" {
				val = json.Number(v)
			}
		case monitor.BoolField:
			if v == "true" {
				val = true
			}
		default:
			if v != "" {
				val = v
			}
		}
		if val != nil {
			o.set(parts[len(parts)-1], val)
		}
	}
	return root
}

// decodeMonitor reads a monitor of the state file: "id" and the owned
// fields at their paths; any other member is an error naming it.
func decodeMonitor(raw json.RawMessage) (monitor.Monitor, error) {
	var m monitor.Monitor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return m, err
	}
	if obj == nil {
		return m, errors.New("a monitor must be an object")
	}
	if id, ok := obj["id"]; ok {
		n, isNum := id.(json.Number)
		v, err := n.Int64()
		if !isNum || err != nil {
			return m, fmt.Errorf("id must be an integer, not %v", id)
		}
		m.ID = v
		delete(obj, "id")
	}
	if err := decodeMembers(&m.Definition, obj, ""); err != nil {
		return m, err
	}
	m.Tags, m.Fingerprint = monitor.SplitFingerprintTag(m.Tags)
	return m, nil
}

func decodeMembers(d *monitor.Definition, obj map[string]any, prefix string) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path, v := prefix+k, obj[k]
		if v == nil {
			continue
		}
		if objects[path] {
			sub, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s must be an object", path)
			}
			if err := decodeMembers(d, sub, path+"."); err != nil {
				return err
			}
			continue
		}
		f, ok := monitor.FieldByName(path)
		if !ok {
			return fmt.Errorf("unknown field %q", path)
		}
		s, err := fieldString(f, v)
		if err != nil {
			return err
		}
		if err := f.Set(d, s); err != nil {
			return err
		}
	}
	return nil
}

// fieldString returns a JSON value of the state file in the form
// monitor.Field.Set takes, checking its type.
func fieldString(f monitor.Field, v any) (string, error) {
	switch f.Kind {
	case monitor.ListField:
		items, ok := v.([]any)
		if !ok {
			return "", fmt.Errorf("%s must be an array of strings", f.Name)
		}
		strs := make([]string, len(items))
		for i, it := range items {
			if strs[i], ok = it.(string); !ok {
				return "", fmt.Errorf("%s must be an array of strings", f.Name)
			}
		}
		return strings.Join(strs, ", "), nil
	case monitor.NumberField:
		if n, ok := v.(json.Number); ok {
			return n.String(), nil
		}
		return "", fmt.Errorf("%s must be a number", f.Name)
	case monitor.BoolField:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return "", fmt.Errorf("%s must be true or false", f.Name)
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("%s must be a string", f.Name)
}

// encode renders st as the state file's pretty-printed JSON.
func encode(st *state) ([]byte, error) {
	f := fileJSON{Version: Version, NextID: st.NextID, Monitors: make([]json.RawMessage, len(st.Monitors))}
	for i := range st.Monitors {
		b, err := encodeMonitor(&st.Monitors[i]).MarshalJSON()
		if err != nil {
			return nil, err
		}
		f.Monitors[i] = b
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // queries hold ">=", messages "<" and "&"
	if err := enc.Encode(&f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decode parses a state file strictly: unknown fields, another version,
// duplicate or non-positive IDs are errors. The monitors come back sorted
// by ID, and the next ID is above every ID in the file.
func decode(data []byte) (*state, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the state object")
	}
	if f.Version != Version {
		return nil, fmt.Errorf("unsupported state file version %d (this esm reads version %d)", f.Version, Version)
	}
	st := &state{NextID: max(f.NextID, 1), Monitors: make([]monitor.Monitor, len(f.Monitors))}
	for i := range f.Monitors {
		m, err := decodeMonitor(f.Monitors[i])
		if err != nil {
			return nil, fmt.Errorf("monitors[%d]: %w", i, err)
		}
		st.Monitors[i] = m
	}
	sort.SliceStable(st.Monitors, func(i, j int) bool { return st.Monitors[i].ID < st.Monitors[j].ID })
	for i, m := range st.Monitors {
		if m.ID <= 0 {
			return nil, fmt.Errorf("monitor %q has ID %d; IDs are positive", m.Name, m.ID)
		}
		if i > 0 && st.Monitors[i-1].ID == m.ID {
			return nil, fmt.Errorf("two monitors have ID %d", m.ID)
		}
		// A next_id at or below a stored ID would hand that ID out again.
		st.NextID = max(st.NextID, m.ID+1)
	}
	return st, nil
}

// jsonError adds the line and column to a JSON syntax or type error.
func jsonError(data []byte, err error) error {
	var offset int64
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	default:
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	// The error occurred after reading offset bytes: the last one read is
	// where it points.
	prefix := data[:max(0, min(int(offset)-1, len(data)))]
	line := bytes.Count(prefix, []byte("\n")) + 1
	col := len(prefix) - bytes.LastIndexByte(prefix, '\n') // 1-based: LastIndexByte is -1 on line 1
	return fmt.Errorf("%w (line %d, column %d)", err, line, col)
}

// load reads the state file at path, following symbolic links. A missing
// file (or a link to one) is an empty state and a nil FileInfo; a path
// that is not a regular file (a named pipe, a device, a socket, a
// directory) is refused before it is opened, so that reading can never
// block; any other problem is an error naming the file.
func load(path string) (*state, fs.FileInfo, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return emptyState(), nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state %s: %w", path, err)
	}
	if err := checkRegular(path, info); err != nil {
		return nil, nil, err
	}
	// Non-blocking, should the file be swapped for a named pipe since
	// the Stat: opening one for reading would wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return emptyState(), nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read state %s: %w", path, err)
	}
	defer f.Close()
	info, err = f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read state %s: %w", path, err)
	}
	if err := checkRegular(path, info); err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read state %s: %w", path, err)
	}
	st, err := decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read state %s: %w", path, err)
	}
	return st, info, nil
}

// checkRegular returns an error unless info, the result of following the
// symbolic links of path, is a regular file: "state file X is a named
// pipe, not a regular file", naming the link's target when path is a
// link.
func checkRegular(path string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	what := fileKind(info.Mode())
	if target, err := resolve(path); err == nil && target != path {
		if l, err := os.Lstat(path); err == nil && l.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("state file %s is a symbolic link to %s, %s, not a regular file", path, target, what)
		}
	}
	return fmt.Errorf("state file %s is %s, not a regular file", path, what)
}

// fileKind names the kind of file of a mode that is not a regular file.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device"
	case mode&fs.ModeDevice != 0:
		return "a block device"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// maxLinks bounds the symbolic links resolve follows, as the system does
// (Linux's MAXSYMLINKS is 40).
const maxLinks = 40

// resolve returns the file that path names once its symbolic links are
// followed: path itself (with its directory's links resolved) when it is
// not a link, the final target when it is, even when that target does not
// exist yet. The state is written there, so that a link to a shared state
// file stays a link and its target is the file updated. A path whose
// directory does not exist is returned as it is: there is no link to
// follow.
func resolve(path string) (string, error) {
	for hops := 0; ; hops++ {
		dir, err := filepath.EvalSymlinks(filepath.Dir(path))
		if err != nil {
			if hops == 0 && errors.Is(err, fs.ErrNotExist) {
				return path, nil
			}
			return "", fmt.Errorf("follow the link to %s: %w", path, err)
		}
		path = filepath.Join(dir, filepath.Base(path))
		info, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		if hops == maxLinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", path)
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			// dir has no links left, so ".." in target means what the
			// system takes it to mean.
			target = filepath.Join(dir, target)
		}
		path = target
	}
}

// lockDirOf returns the directory whose lock guards the state file at
// path: the directory of the file its symbolic links lead to, so that esm
// processes reaching one state file through different links, or through
// none, exclude each other. When the links cannot be followed it is
// path's own directory, and the write reports why.
func lockDirOf(path string) string {
	if target, err := resolve(path); err == nil {
		return filepath.Dir(target)
	}
	return filepath.Dir(path)
}

// writeAtomic replaces the file at path with st: it writes a temporary
// file next to the file path leads to (through its symbolic links, which
// stay as they are), syncs it and renames it over that file, so that a
// reader sees the old file or the new one, never a part. A target that
// exists and is not a regular file is refused. The file keeps its
// permissions (0644 when new). It returns the new file's FileInfo.
func writeAtomic(path string, st *state) (fs.FileInfo, error) {
	data, err := encode(st)
	if err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	target, err := resolve(path)
	if err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	perm := fs.FileMode(0o644)
	if info, err := os.Stat(target); err == nil {
		if err := checkRegular(path, info); err != nil {
			return nil, err
		}
		perm = info.Mode().Perm()
	}
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("write state %s: sync: %w", path, err)
	}
	info, err := tmp.Stat()
	if err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	if err := os.Rename(tmpName, target); err != nil {
		return nil, fmt.Errorf("write state %s: %w", path, err)
	}
	done = true
	// The new file is in place and is what readers see from now on; a
	// failure to sync the directory entry (some file systems do not
	// support it) only weakens durability across a crash, so it does not
	// turn the committed writes into failures.
	_ = syncDir(dir)
	return info, nil
}
