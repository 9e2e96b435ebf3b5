package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/problem"
)

// maxBody bounds every request body.
const maxBody = 256 << 10

// errEmptyBody is decode's answer to a request without a body.
var errEmptyBody = consult.Errorf(consult.Invalid, "the request body is empty; a JSON object is required")

// decode reads r's JSON body into v strictly: one object, no unknown fields, within maxBody;
// no bytes that are not UTF-8, no key given twice, no bidirectional formatting controls
// (checkJSON). Its errors are *consult.Error naming what is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > maxBody {
		return consult.Errorf(consult.TooLarge, "the request body is larger than %d KiB", maxBody>>10)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return consult.Errorf(consult.TooLarge, "the request body is larger than %d KiB", maxBody>>10)
	case err != nil:
		return consult.Errorf(consult.Invalid, "the request body could not be read")
	}
	if path, p, ok := checkJSON(body); !ok {
		if path == "" {
			return consult.Errorf(consult.Invalid, "the request body %s", p.Message)
		}
		return consult.InvalidFields(fmt.Sprintf("%s: %s", path, p.Message), map[string]problem.Problem{path: p})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if dec.More() || dec.Decode(&struct{}{}) != io.EOF {
			return consult.Errorf(consult.Invalid, "the request body must hold exactly one JSON object")
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return consult.Errorf(consult.Invalid, "the request body must be a JSON object")
		}
		return consult.InvalidFields(fmt.Sprintf("%s has the wrong type", field),
			map[string]problem.Problem{field: wrongType(typeErr.Type.String())})
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return consult.Errorf(consult.Invalid, "the request body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return consult.InvalidFields(fmt.Sprintf("unknown field %q", field),
			map[string]problem.Problem{field: problem.UnknownField()})
	}
	return consult.Errorf(consult.Invalid, "the request body could not be read")
}

// wrongType is the problem with a JSON value that does not fit the Go type it is decoded into:
// "must be a whole number", "must be a string", ...
func wrongType(goType string) problem.Problem {
	switch {
	case strings.Contains(goType, "int"):
		return problem.NotAWholeNumber()
	case strings.Contains(goType, "string"):
		return problem.Malformed("must be a string")
	case strings.Contains(goType, "bool"):
		return problem.Malformed("must be a boolean")
	}
	return problem.Malformed("must be a JSON " + goType)
}
