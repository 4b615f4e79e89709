// Package api is the local HTTP API of a running node, and its typed Go
// client.
//
// The server binds to loopback only and requires the bearer token the
// node writes into its data directory (api.token, mode 0600) next to the
// address it listens on (api.addr), so that programs given the data dir
// find the node and talk to it (Dial). The dashboard's browser sessions
// are the one other credential (Pages).
//
// # The document
//
// Routes lists every operation; Document builds the OpenAPI 3.0 document
// from it and from the Go types the routes answer with (every object
// closed: no undeclared field). It is kept in the repository as
// api/openapi.json and served at GET /v1/openapi.json (OpenAPI); tests
// hold every answer of the API to it. Every error answers with one shape,
// Error: a code (ErrorCode) and a message.
//
// # The client
//
// Client has a method for each operation, each taking a context:
//
//	c, err := api.Dial(dataDir)                       // or api.New(addr, token)
//	sub, err := c.Submit(ctx, api.SubmitRequest{Spec: spec, Module: mod, Detach: true}, nil)
//	err = c.Events(ctx, sub.Job, true, func(e job.Event) { ... }) // its logs: job.EventLog
//	rec, err := c.Job(ctx, sub.Job)
//	err = c.Download(ctx, rec.Outcome.Outputs, "outputs")
//
// Submit streams the job's events to its progress function (NDJSON on
// the wire) until the outcome; Events follows a job submitted earlier;
// List, Open and Download read the node's content store. An error the
// node answered is an *Error (errors.Is(err, ErrNotFound) for not_found;
// BadRequest for a submission refused). Backend, the node's side, and
// Client share these types: a program using the client needs neither
// the node nor libp2p. examples/apiclient is a whole program.
package api
