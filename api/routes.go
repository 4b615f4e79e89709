package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/computemesh/computemesh/job"
)

// routeMux is a ServeMux that keeps the patterns it was given (Patterns:
// a test holds them to Routes).
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// routes maps the API's paths to b (and /metrics to metrics, if not nil).
func (s *Server) routes(b Backend, metrics http.Handler) *routeMux {
	mux := &routeMux{ServeMux: http.NewServeMux()}
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", MediaJSON)
		_, _ = w.Write(openAPIFile)
	})
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Info())
	})
	mux.HandleFunc("POST /v1/jobs", func(w http.ResponseWriter, r *http.Request) { s.submit(w, r, b) })
	mux.HandleFunc("GET /v1/market", marketHandler(b))
	mux.HandleFunc("GET /v1/credits", creditsHandler(b))
	mux.HandleFunc("POST /v1/grants", grantHandler(b))
	mux.HandleFunc("POST /v1/ledger/verify", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.VerifyLedger)
	})
	mux.HandleFunc("GET /v1/reputation", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.Reputations)
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.Jobs)
	})
	mux.HandleFunc("GET /v1/jobs/{id}", jobHandler(b))
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Cancel(r.PathValue("id")); err != nil { // not found, or it has ended
			errorOf(w, err, CodeConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/jobs/{id}/events", eventsHandler(b))
	mux.HandleFunc("GET /v1/provider/jobs", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.ProviderJobs)
	})
	mux.HandleFunc("GET /v1/content/{cid}", contentHandler(b))
	mux.HandleFunc("GET /v1/content/{cid}/{path...}", contentHandler(b))
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		b.Drain()
		w.WriteHeader(http.StatusAccepted)
	})
	routeBodies(mux, b)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux
}

// routeBodies maps the requests that carry a JSON body and answer with the
// backend's reply.
func routeBodies(mux *routeMux, b Backend) {
	mux.HandleFunc("POST /v1/providers", func(w http.ResponseWriter, r *http.Request) {
		var need job.Need
		if !decodeBody(w, r, &need) {
			return
		}
		reply(w, func() ([]ProviderInfo, error) { return b.Providers(r.Context(), need) })
	})
	mux.HandleFunc("POST /v1/challenge", func(w http.ResponseWriter, r *http.Request) {
		var req ChallengeRequest
		if !decodeBody(w, r, &req) {
			return
		}
		reply(w, func() (ChallengeResult, error) { return b.Challenge(r.Context(), req.Peer) })
	})
	mux.HandleFunc("POST /v1/gc", func(w http.ResponseWriter, r *http.Request) {
		var req GCRequest
		if !decodeBody(w, r, &req) {
			return
		}
		reply(w, func() (*GCReport, error) { return b.GC(req.DryRun) })
	})
	mux.HandleFunc("POST /v1/content/fetch", func(w http.ResponseWriter, r *http.Request) {
		var req ContentRequest
		if !decodeBody(w, r, &req) {
			return
		}
		reply(w, func() (ContentStat, error) { return b.FetchContent(r.Context(), req.CID) })
	})
}

// marketHandler serves GET /v1/market?window=DURATION (default 1h).
func marketHandler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		window := time.Hour
		if v := r.URL.Query().Get("window"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 30*24*time.Hour {
				writeError(w, CodeBadRequest, "window: %q is not a duration of up to 30 days", v)
				return
			}
			window = d
		}
		reply(w, func() ([]Rate, error) { return b.Market(window) })
	}
}

// creditsHandler serves GET /v1/credits?recent=N (default 20).
func creditsHandler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		recent := 20
		if v := r.URL.Query().Get("recent"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 10_000 {
				writeError(w, CodeBadRequest, "recent: %q is not a count of 0 to 10000", v)
				return
			}
			recent = n
		}
		reply(w, func() (Credits, error) { return b.Credits(recent) })
	}
}

// grantHandler serves POST /v1/grants.
func grantHandler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var g job.Grant
		if !decodeBody(w, r, &g) {
			return
		}
		if err := b.AddGrant(r.Context(), &g); err != nil {
			writeError(w, CodeBadRequest, "%v", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// jobHandler serves GET /v1/jobs/{id}.
func jobHandler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reply(w, func() (*JobRecord, error) { return b.Job(r.PathValue("id")) })
	}
}

// eventsHandler serves GET /v1/jobs/{id}/events (?follow=1), one JSON line
// per event.
func eventsHandler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		wrote := false
		err := b.Events(r.Context(), r.PathValue("id"), r.URL.Query().Get("follow") == "1", func(e job.Event) {
			wrote = true
			_ = enc.Encode(Line{Event: &e})
			if flusher != nil {
				flusher.Flush()
			}
		})
		if err != nil && !wrote {
			errorOf(w, err, CodeUpstream)
		}
	}
}
