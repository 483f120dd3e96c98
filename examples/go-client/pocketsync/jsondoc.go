package pocketsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Documents travel as JSON text whose top-level value is an object (PROTOCOL
// §3.1). The replica keeps the text as received; these helpers read the
// top level of it for stripping reserved keys and for field-level merge.

// field is one top-level key of a document, its value left as JSON text.
type field struct {
	Key   string
	Value json.RawMessage
}

// object is a document's top-level keys in their order of first appearance.
// A repeated key keeps its first position and its last value, as
// JavaScript's JSON.parse does.
type object []field

var errNotObject = errors.New("a document must be a JSON object")

func parseObject(text string) (object, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotObject, err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, errNotObject
	}
	var out object
	index := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotObject, err)
		}
		key := tok.(string) // inside an object the decoder yields keys as strings
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("%w: %v", errNotObject, err)
		}
		if i, seen := index[key]; seen {
			out[i].Value = value
			continue
		}
		index[key] = len(out)
		out = append(out, field{Key: key, Value: value})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%w: %v", errNotObject, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: text after the object", errNotObject)
	}
	return out, nil
}

func (o object) get(key string) (json.RawMessage, bool) {
	for _, f := range o {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// text encodes the object compactly, keeping key order and value text.
func (o object) text() string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(f.Key) // a string always marshals
		b.Write(key)
		b.WriteByte(':')
		if err := json.Compact(&b, f.Value); err != nil {
			b.Write(f.Value) // already valid JSON: Compact cannot fail on it
		}
	}
	b.WriteByte('}')
	return b.String()
}

// reservedKeys are the client's local metadata, never pushed (PROTOCOL §3.3).
var reservedKeys = []string{"_id", "_rev", "_deleted"}

// stripReserved checks that text is a JSON object and removes the reserved
// top-level keys, keeping the text untouched when there are none.
func stripReserved(text string) (string, error) {
	obj, err := parseObject(text)
	if err != nil {
		return "", err
	}
	kept := obj[:0:0]
	for _, f := range obj {
		reserved := false
		for _, r := range reservedKeys {
			reserved = reserved || f.Key == r
		}
		if !reserved {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(obj) {
		return text, nil
	}
	return kept.text(), nil
}

// jsonEqual compares two JSON values as values: key order and insignificant
// whitespace do not matter, and numbers compare numerically (1.0 equals 1).
func jsonEqual(a, b json.RawMessage) bool {
	va, errA := decodeValue(a)
	vb, errB := decodeValue(b)
	if errA != nil || errB != nil {
		return bytes.Equal(a, b)
	}
	return valuesEqual(va, vb)
}

func decodeValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valuesEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(x, y)
	default: // string, bool, nil
		return a == b
	}
}

func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	// 512 bits of mantissa: exact for any number a document sensibly holds,
	// and parsing stays cheap even for a hostile exponent such as 1e999999999.
	x, _, errX := big.ParseFloat(string(a), 10, 512, big.ToNearestEven)
	y, _, errY := big.ParseFloat(string(b), 10, 512, big.ToNearestEven)
	if errX != nil || errY != nil || x.IsInf() || y.IsInf() {
		// Beyond big.Float's exponent range every number reads as infinity;
		// such numbers are equal only as the same text.
		return false
	}
	return x.Cmp(y) == 0
}
