// Package apierror writes the broker's error responses: the JSON error envelope of the API and the
// one mapping from an error code to its HTTP status, shared by every service that answers HTTP.
package apierror

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/regionalconsult/broker/pkg/consult"
	"github.com/regionalconsult/broker/pkg/problem"
)

// StatusCode maps an error code to its HTTP status. It is the only place that does.
func StatusCode(c consult.Code) int {
	switch c {
	case consult.Invalid:
		return http.StatusBadRequest
	case consult.Unauthenticated:
		return http.StatusUnauthorized
	case consult.Forbidden:
		return http.StatusForbidden
	case consult.NotFound:
		return http.StatusNotFound
	case consult.Conflict:
		return http.StatusConflict
	case consult.TooLarge:
		return http.StatusRequestEntityTooLarge
	case consult.RateLimited:
		return http.StatusTooManyRequests
	case consult.KeyReused:
		return http.StatusUnprocessableEntity
	case consult.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Body is the error envelope.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the inside of the envelope. For invalid, Fields gives each field at fault an English
// sentence and Problems gives the same fields a code and its bounds (see problem.Problem). For
// rate_limited, Budget names the user's budget that is spent, when one is.
type Detail struct {
	Code     consult.Code               `json:"code"`
	Message  string                     `json:"message"`
	Fields   map[string]string          `json:"fields,omitempty"`
	Problems map[string]problem.Problem `json:"problems,omitempty"`
	Budget   string                     `json:"budget,omitempty"`
}

// RetryAfter is an error that tells the client when it may try again; Budget names the budget
// that is spent, when the refusal is one of the user's budgets.
type RetryAfter struct {
	Err    *consult.Error
	After  time.Duration
	Budget string
}

func (r RetryAfter) Error() string { return r.Err.Error() }

// Unavailable wraps a dependency failure: the request was not applied and may be retried.
func Unavailable(err error) error {
	return errors.Join(consult.Errorf(consult.Unavailable, "the service is briefly unavailable; nothing was changed, please retry"), err)
}

// Write answers with err's code and message. An error that is not a domain outcome is logged and
// answered as internal, without its details; an unavailable one is logged with its cause.
func Write(w http.ResponseWriter, log *slog.Logger, err error) {
	var ra RetryAfter
	budget := ""
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((ra.After+time.Second-1)/time.Second))))
		err, budget = ra.Err, ra.Budget
	}
	var e *consult.Error
	if !errors.As(err, &e) {
		log.Error("request failed", "err", err)
		e = consult.Errorf(consult.Internal, "something went wrong on our side; the request was not applied")
	} else if e.Code == consult.Unavailable {
		log.Warn("dependency unavailable", "err", err)
	}
	WriteJSON(w, StatusCode(e.Code), Body{Error: Detail{Code: e.Code, Message: e.Message,
		Fields: e.FieldMessages(), Problems: e.FieldProblems(), Budget: budget}})
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
