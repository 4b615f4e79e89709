// Package sim is computemesh's schedule-quality simulator: it drives the real
// scheduler code (scheduler.Admit on the provider side, scheduler.Auction,
// scheduler.Checks, scheduler.Evaluate and scheduler.Pay on the client side,
// market.Price and market.Charge for money) over a simulated mesh of
// hundreds of providers, in virtual time, and compares the schedules it
// makes with those of three other schedulers on the same job stream: random
// choice, power-of-two-choices and an omniscient centralised scheduler.
//
// Latency between nodes comes from a table of measured inter-city round-trip
// times (LoadTopology reads WonderProxy's ping and server CSV files); each
// node lives in a city, and one-way link latency is half the city pair's
// mean RTT. Everything is driven by a Loop of timed events: nothing sleeps,
// and a run with a given seed repeats exactly.
//
// The package imports only job, scheduler, market and the standard library,
// so that it stays free of libp2p; the meshnode sim command is its front end.
package sim
