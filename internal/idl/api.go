// Package idl reads Avro IDL (.avdl) files, and the JSON schema (.avsc) and
// protocol (.avpr) files they import, into a schema graph with a source
// range on every declaration and annotation, and writes that graph as the
// JSON Apache Avro's own idl tool writes.
//
// The scanner and the recursive-descent parser are hand-written, after
// go/scanner and go/parser; the language is the one of Avro 1.12's
// Idl.g4 grammar, and the semantics those of its IdlReader.
package idl

import (
	"github.com/esm-dev/esm/internal/diag"
)

// Options configure how a file and its imports are read.
type Options struct {
	// ImportPaths are searched, in order, for an import that is not found
	// relative to the importing file (the reference's classpath lookup).
	ImportPaths []string
	// ReadFile reads a file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// OutputKind says what the JSON of a Result is.
type OutputKind int

const (
	// KindProtocol is a protocol file: the JSON is a protocol.
	KindProtocol OutputKind = iota
	// KindSchema is a schema-mode file with a `schema` declaration, or a
	// .avsc file: the JSON is that schema.
	KindSchema
	// KindSchemas is a schema-mode file without a main schema: the JSON is
	// an array of every named schema, each written self-contained.
	KindSchemas
)

// Result is one parsed file with everything it imports.
type Result struct {
	Kind OutputKind
	// Protocol is set for protocol files (KindProtocol).
	Protocol *Protocol
	// Main is the main schema of a schema-mode file or .avsc file.
	Main *Schema
	// Types holds every named type, in definition order; imported types
	// at the position of their import.
	Types []*Schema
	// Files lists every file read, the parsed file first, as the paths the
	// parser opened.
	Files []string
	// Warnings are problems that did not stop the parse, such as
	// out-of-place doc comments.
	Warnings diag.List
}

// Lookup returns the named type with the given full name, or nil.
func (r *Result) Lookup(fullName string) *Schema {
	for _, t := range r.Types {
		if t.FullName() == fullName {
			return t
		}
	}
	return nil
}
