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

	"github.com/esm-dev/esm/annotations"
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

// The JSON form of the state file. Field names follow Datadog's monitor
// API; zero values are left out so that the file stays short.
type (
	fileJSON struct {
		Version  int           `json:"version"`
		NextID   int64         `json:"next_id"`
		Monitors []monitorJSON `json:"monitors"`
	}
	monitorJSON struct {
		ID       int64       `json:"id"`
		Name     string      `json:"name"`
		Type     string      `json:"type,omitempty"`
		Query    string      `json:"query,omitempty"`
		Message  string      `json:"message,omitempty"`
		Tags     []string    `json:"tags,omitempty"`
		Priority int64       `json:"priority,omitempty"`
		Options  optionsJSON `json:"options"`
	}
	optionsJSON struct {
		Thresholds        thresholdsJSON        `json:"thresholds"`
		ThresholdWindows  *thresholdWindowsJSON `json:"threshold_windows,omitempty"`
		NotifyNoData      bool                  `json:"notify_no_data,omitempty"`
		NoDataTimeframe   int64                 `json:"no_data_timeframe,omitempty"`
		RenotifyInterval  int64                 `json:"renotify_interval,omitempty"`
		EvaluationDelay   int64                 `json:"evaluation_delay,omitempty"`
		NewGroupDelay     int64                 `json:"new_group_delay,omitempty"`
		IncludeTags       bool                  `json:"include_tags,omitempty"`
		RequireFullWindow bool                  `json:"require_full_window,omitempty"`
		NotifyAudit       bool                  `json:"notify_audit,omitempty"`
		EscalationMessage string                `json:"escalation_message,omitempty"`
		TimeoutH          int64                 `json:"timeout_h,omitempty"`
	}
	thresholdsJSON struct {
		Critical         *float64 `json:"critical,omitempty"`
		CriticalRecovery *float64 `json:"critical_recovery,omitempty"`
		Warning          *float64 `json:"warning,omitempty"`
		WarningRecovery  *float64 `json:"warning_recovery,omitempty"`
	}
	thresholdWindowsJSON struct {
		TriggerWindow  string `json:"trigger_window,omitempty"`
		RecoveryWindow string `json:"recovery_window,omitempty"`
	}
)

func toJSON(m *monitor.Monitor) monitorJSON {
	o := &m.Options
	j := monitorJSON{
		ID: m.ID, Name: m.Name, Type: m.Type, Query: m.Query, Message: m.Message, Tags: m.Tags, Priority: m.Priority,
		Options: optionsJSON{
			Thresholds: thresholdsJSON{
				Critical: o.Thresholds.Critical, CriticalRecovery: o.Thresholds.CriticalRecovery,
				Warning: o.Thresholds.Warning, WarningRecovery: o.Thresholds.WarningRecovery,
			},
			NotifyNoData: o.NotifyNoData, NoDataTimeframe: o.NoDataTimeframe, RenotifyInterval: o.RenotifyInterval,
			EvaluationDelay: o.EvaluationDelay, NewGroupDelay: o.NewGroupDelay, IncludeTags: o.IncludeTags,
			RequireFullWindow: o.RequireFullWindow, NotifyAudit: o.NotifyAudit, EscalationMessage: o.EscalationMessage,
			TimeoutH: o.TimeoutH,
		},
	}
	if w := o.ThresholdWindows; w != nil {
		j.Options.ThresholdWindows = &thresholdWindowsJSON{TriggerWindow: w.TriggerWindow, RecoveryWindow: w.RecoveryWindow}
	}
	return j
}

func fromJSON(j *monitorJSON) monitor.Monitor {
	o := &j.Options
	m := monitor.Monitor{ID: j.ID, Monitor: annotations.Monitor{
		Name: j.Name, Type: j.Type, Query: j.Query, Message: j.Message, Tags: j.Tags, Priority: j.Priority,
		Options: annotations.Options{
			Thresholds: annotations.Thresholds{
				Critical: o.Thresholds.Critical, CriticalRecovery: o.Thresholds.CriticalRecovery,
				Warning: o.Thresholds.Warning, WarningRecovery: o.Thresholds.WarningRecovery,
			},
			NotifyNoData: o.NotifyNoData, NoDataTimeframe: o.NoDataTimeframe, RenotifyInterval: o.RenotifyInterval,
			EvaluationDelay: o.EvaluationDelay, NewGroupDelay: o.NewGroupDelay, IncludeTags: o.IncludeTags,
			RequireFullWindow: o.RequireFullWindow, NotifyAudit: o.NotifyAudit, EscalationMessage: o.EscalationMessage,
			TimeoutH: o.TimeoutH,
		},
	}}
	if w := o.ThresholdWindows; w != nil {
		m.Options.ThresholdWindows = &annotations.ThresholdWindows{TriggerWindow: w.TriggerWindow, RecoveryWindow: w.RecoveryWindow}
	}
	return m
}

// encode renders st as the state file's pretty-printed JSON.
func encode(st *state) ([]byte, error) {
	f := fileJSON{Version: Version, NextID: st.NextID, Monitors: make([]monitorJSON, len(st.Monitors))}
	for i := range st.Monitors {
		f.Monitors[i] = toJSON(&st.Monitors[i])
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
		st.Monitors[i] = fromJSON(&f.Monitors[i])
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
