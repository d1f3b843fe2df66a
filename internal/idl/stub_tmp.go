package idl

import "errors"

// TEMPORARY: replaced by the real parser.

func LoadFile(path string, opts Options) (*Result, error) { return nil, errors.New("not implemented") }
func ParseFile(path string, opts Options) (*Result, error) { return nil, errors.New("not implemented") }
func (r *Result) JSON() ([]byte, error)                    { return nil, errors.New("not implemented") }
func SchemaJSON(s *Schema) ([]byte, error)                 { return nil, errors.New("not implemented") }
