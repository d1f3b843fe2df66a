package diag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// JSONError adds the line and column to a JSON syntax or type error from
// decoding data, as "... (line 3, column 7)"; other errors come back as
// they are.
func JSONError(data []byte, err error) error {
	var offset int64
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	default:
		return err
	}
	// The error occurred after reading offset bytes: the last one read is
	// where it points.
	prefix := data[:max(0, min(int(offset)-1, len(data)))]
	line := bytes.Count(prefix, []byte("\n")) + 1
	col := len(prefix) - bytes.LastIndexByte(prefix, '\n') // 1-based: LastIndexByte is -1 on line 1
	return fmt.Errorf("%w (line %d, column %d)", err, line, col)
}
