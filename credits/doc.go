// Package credits is a node's side of the credit ledger: it owns the
// node's ledger (package ledger) and everything that keeps it current and
// acts on it over the mesh.
//
// A Book holds the ledger, the records gossiped to it (grants, fraud
// proofs), where receipts go (each to the holders of its payer's and its
// payee's accounts, and to its parties: the ledger-store protocol), the
// syncs that fetch an account's records from its holders before it is
// judged (the ledger-sync protocol), what a provider's accepted runs may
// still cost each client (Reserve, Settle, Owes), and the signatures a
// node makes as a payer or a payee: authorisations, receipts, voids and
// claims. In the award protocol's receipt step it is the award.Payer and
// the award.Payee: package award carries the receipt on the stream, a
// Book signs, checks and records it (SignReceipt, CheckCounterSigned,
// CounterSign, PushRecord). Its goroutines and stream handlers are its own (internal/owned):
// Close waits for them, then closes the ledger.
//
// A Book reaches the mesh through the small Mesh interface; *mesh.Mesh
// satisfies it.
package credits
