package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// ErrorCode says what kind of error the API answered with.
type ErrorCode string

// Error codes, one for each HTTP status the API answers errors with.
const (
	CodeBadRequest   ErrorCode = "bad_request"        // 400: the request is malformed or refused as it is
	CodeUnauthorized ErrorCode = "unauthorized"       // 401: no credentials, or wrong ones
	CodeForbidden    ErrorCode = "forbidden"          // 403: credentials, but from the wrong host or origin
	CodeNotFound     ErrorCode = "not_found"          // 404: no such job, content or route
	CodeNotAllowed   ErrorCode = "method_not_allowed" // 405: a method the route does not take
	CodeConflict     ErrorCode = "conflict"           // 409: not in a state that allows it (a job that has ended)
	CodeTooLarge     ErrorCode = "too_large"          // 413: over a size limit
	CodeUpstream     ErrorCode = "upstream"           // 502: the mesh or the node's store failed
)

// status is the HTTP status of an error code.
func (c ErrorCode) status() int {
	switch c {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusBadGateway
	}
}

// Error is the one shape of every error the API answers with: the body
// of a response with an error status, and the error of a submission's
// NDJSON line. The client returns it as the error of a call; errors.Is
// matches it against ErrNotFound by its code.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) true of a not_found error.
func (e *Error) Is(target error) bool { return target == ErrNotFound && e.Code == CodeNotFound }

// ErrTooLarge means what a request names is over a limit of the node
// (the API answers 413, too_large).
var ErrTooLarge = errors.New("too large")

// loopbackHost checks that addr is host:port with a loopback host (an IP
// of 127.0.0.0/8 or ::1, or localhost), wrapping notLoopback when it is
// not; what names the listener in the error.
func loopbackHost(what, addr string, notLoopback error) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s address %q: %w", what, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s address %q: %w", what, addr, notLoopback)
	}
	return nil
}

// writeError answers with e's status and e as JSON.
func writeError(w http.ResponseWriter, code ErrorCode, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code.status())
	_ = json.NewEncoder(w).Encode(Error{Code: code, Message: fmt.Sprintf(format, args...)})
}

// errorOf answers with err: not_found when it wraps ErrNotFound, else
// fallback.
func errorOf(w http.ResponseWriter, err error, fallback ErrorCode) {
	code := fallback
	switch {
	case errors.Is(err, ErrNotFound):
		code = CodeNotFound
	case errors.Is(err, ErrTooLarge):
		code = CodeTooLarge
	}
	writeError(w, code, "%s", err.Error())
}

// readError turns a response with an error status into an *Error (one
// from a server of another shape keeps its text as the message).
func readError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Code != "" {
		return &e
	}
	code := CodeUpstream
	for _, c := range []ErrorCode{CodeBadRequest, CodeUnauthorized, CodeForbidden, CodeNotFound, CodeNotAllowed, CodeConflict, CodeTooLarge} {
		if c.status() == resp.StatusCode {
			code = c
		}
	}
	return &Error{Code: code, Message: strings.TrimSpace(string(b))}
}

// BadRequest reports whether err is the node's refusal of the request
// itself (code bad_request: a submission refused before anything was
// sent), with its message.
func BadRequest(err error) (string, bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == CodeBadRequest {
		return e.Message, true
	}
	return "", false
}
