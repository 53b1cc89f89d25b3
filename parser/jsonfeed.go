package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// isJSON reports whether body is a JSON object, the way gofeed detects a JSON
// Feed: its first byte after white space is '{'.
func isJSON(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// checkJSONFeed refuses a JSON object that is not a JSON Feed. JSON Feed 1.0
// and 1.1 require "version" (a URL string such as
// "https://jsonfeed.org/version/1.1") and "items" (an array, possibly
// empty); gofeed checks neither and reads any object as a feed without
// items. Like feed readers, it asks for one of the two, not both: a feed
// that forgets its version still has readable items, and one with a
// version and no items is an empty feed. An object with neither is not a
// feed. Title, also required by the spec, is not insisted on either.
// Every other field is optional; a field of the wrong type is an error.
func checkJSONFeed(body []byte) error {
	var top struct {
		Version json.RawMessage `json:"version"`
		Items   json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return jsonError(err)
	}
	var missing, wrong []string
	switch kind := jsonKind(top.Version); kind {
	case "":
		missing = append(missing, `"version"`)
	case "a string":
	default:
		wrong = append(wrong, fmt.Sprintf(`"version" is %s, want a string such as "https://jsonfeed.org/version/1.1"`, kind))
	}
	switch kind := jsonKind(top.Items); kind {
	case "":
		missing = append(missing, `"items"`)
	case "an array":
	default:
		wrong = append(wrong, fmt.Sprintf(`"items" is %s, want an array`, kind))
	}
	if len(missing) == 2 {
		return errors.New(`not a JSON Feed: no "version" and no "items" (JSON Feed 1.0 and 1.1 require both)`)
	}
	if len(wrong) > 0 {
		return fmt.Errorf("invalid JSON Feed: %s", strings.Join(wrong, "; "))
	}
	return nil
}

// jsonKind names the JSON type of a raw value with its article ("a
// string"): "" when absent or null.
func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	switch t[0] {
	case 'n':
		return ""
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

// jsonError rewrites encoding/json's errors, which speak of Go types
// ("cannot unmarshal string into Go struct field .alias.items of type
// []*json.Item"), in terms of the document: the field's JSON path, what it
// holds and what JSON Feed wants there. Other errors pass unchanged.
func jsonError(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		var path []string
		for p := range strings.SplitSeq(te.Field, ".") {
			if p != "" && p != "alias" {
				path = append(path, p)
			}
		}
		field := strings.Join(path, ".")
		if field == "" {
			field = "(document)"
		}
		return fmt.Errorf("invalid JSON Feed: %q is %s, want %s", field, article(te.Value), jsonWant(te.Type))
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	return err
}

// article puts "a" or "an" before a JSON type name from encoding/json.
func article(v string) string {
	switch {
	case v == "":
		return "a value"
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "object" || v == "array":
		return "an " + v
	default:
		return "a " + v
	}
}

// jsonWant names the JSON type that decodes into t.
func jsonWant(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "another type"
	}
}
