// Package idref resolves the ways a person writes a job or peer ID: the
// whole ID, the short form the CLI's tables print, or a unique prefix of
// the ID or of its distinctive part.
//
// Every job ID of a network starts alike (a CIDv1 of one codec and hash:
// "bagaaiera…"), and so does every Ed25519 peer ID ("12D3KooW…"): those
// headers tell IDs apart by nothing. Short prints the first ShortLen
// characters after them, in plain ASCII, and Resolve takes any unique
// prefix of what follows them, as well as the older "prefix…suffix" form
// (with "…", "..." or "..").
package idref

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ShortLen is how many distinctive characters Short prints.
const ShortLen = 12

// headers are the fixed beginnings of the IDs computemesh prints: its job
// IDs (CIDv1, its codec, SHA-256), raw and dag-pb CIDv1 with SHA-256, and
// Ed25519 and older RSA peer IDs.
var headers = [...]string{"bagaaiera", "bafkrei", "bafybei", "12D3KooW", "Qm"}

// Distinctive returns id without its fixed header, if it has one.
func Distinctive(id string) string {
	for _, h := range headers {
		if len(id) > len(h) && strings.HasPrefix(id, h) {
			return id[len(h):]
		}
	}
	return id
}

// Short returns the form tables print: the first ShortLen characters of
// id's distinctive part (id itself when that is not shorter).
func Short(id string) string {
	d := Distinctive(id)
	if len(d) <= ShortLen {
		return id
	}
	return d[:ShortLen]
}

// ErrNoMatch: no ID matches the reference.
var ErrNoMatch = errors.New("no match")

// ErrAmbiguous: more than one ID matches the reference.
var ErrAmbiguous = errors.New("ambiguous")

// maxListed bounds the matches an ambiguous reference's error lists.
const maxListed = 5

// Resolve returns the one ID among ids that ref names; what ("job",
// "peer") words the errors, which wrap ErrNoMatch or ErrAmbiguous. ref may
// be the whole ID, its Short form, a prefix of the ID or of its
// distinctive part, or "prefix…suffix" ("...", ".." too). A reference
// that looks like a placeholder from the documentation ("<job ID>") says
// so.
func Resolve(ref string, ids []string, what string) (string, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return "", fmt.Errorf("%w: empty %s ID", ErrNoMatch, what)
	case strings.ContainsAny(ref, "<>"):
		return "", fmt.Errorf("%w: %q is a placeholder: put a %s ID in its place", ErrNoMatch, ref, what)
	}
	match := matcher(ref)
	var found []string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if match(id) && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no %s ID here matches %q", ErrNoMatch, what, ref)
	case 1:
		return found[0], nil
	}
	listed := make([]string, 0, maxListed)
	for _, id := range found[:min(len(found), maxListed)] {
		listed = append(listed, Short(id))
	}
	more := ""
	if len(found) > maxListed {
		more = fmt.Sprintf(" and %d more", len(found)-maxListed)
	}
	return "", fmt.Errorf("%w: %q matches %d %s IDs (%s%s): give more of it", ErrAmbiguous, ref, len(found), what, strings.Join(listed, ", "), more)
}

// matcher returns what ref matches other than the whole ID.
func matcher(ref string) func(id string) bool {
	for _, sep := range []string{"…", "...", ".."} {
		if pre, suf, ok := strings.Cut(ref, sep); ok {
			return func(id string) bool {
				return len(id) >= len(pre)+len(suf) && strings.HasSuffix(id, suf) &&
					(strings.HasPrefix(id, pre) || strings.HasPrefix(Distinctive(id), pre))
			}
		}
	}
	return func(id string) bool {
		return strings.HasPrefix(id, ref) || strings.HasPrefix(Distinctive(id), ref)
	}
}
