// Package market computes what jobs cost: a bid's price from a provider's
// unit rates and a job's requested resources and timeout, the metered charge
// of a finished run, and a node's running balance of credits earned and spent.
//
// Amounts are job.Credits (integer nano-credits) so that sums are exact. The
// package is pure: no network, no clock of its own.
package market
