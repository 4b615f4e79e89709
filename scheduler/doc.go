// Package scheduler holds computemesh's scheduling logic, free of any network
// code so that it is tested without one.
//
// Client side, an Auction collects the bids and declines for one job and
// says when every expected candidate has answered; Evaluate then runs the
// bids through a pipeline in the manner of a cluster scheduler: feasibility
// checks drop what cannot or must not win (with the reason kept), a ranker
// orders the rest by policy (cost: lowest price; latency: lowest RTT), and
// ties are broken deterministically, so the winner comes first and the
// backups, used on failover, follow. A job with a deadline adds the
// MeetsDeadline check: a bid on which it would wait past its deadline is
// rejected, its wait being the bid's own plus the client's Backlog there
// (what it awarded since the bid); a batch without one may set a soft
// bound, Policy.MaxWait, under which bids that wait longer rank last. So
// a burst under the cost policy takes the cheapest bids that still start
// in time instead of queuing everything on the cheapest provider.
//
// Provider side, Admit decides whether to bid on a request and at what price,
// and Reservations does late binding: resources are reserved when an award
// arrives, not when a bid is made.
package scheduler
