// Package dashboard is the node's web dashboard: plain HTML, CSS and
// JavaScript embedded in the binary (no build step, nothing fetched from
// anywhere but the node), served under /dashboard/ on the node's loopback
// API. Its pages call the API's JSON routes with the browser's session
// cookie and the session's page key (api.KeyHeader, kept in the origin's
// localStorage; outputs are downloaded by fetch, as Blob URLs, never by a
// plain link); the API's auth (api.Pages) guards them: Handler serves the
// files to whoever reaches it, and must only be mounted behind that auth.
//
// Pages: overview (peers, providers by region on a map, going rates),
// auctions (bids arriving, the winner and why), jobs (list and filters;
// a job's rounds, bids, rejections, attempts, live logs and outputs),
// submit, credits (balance, receipts, balance over time), and, for a
// device owner, earnings, capacity, running and queued jobs, and drain.
package dashboard
