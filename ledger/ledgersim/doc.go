// Package ledgersim measures what the ledger costs each node of a network,
// in two designs, by driving the ledger package's own code over a
// simulated network.
//
// Today's design gossips every receipt (GossipSub, mesh degree D) to every
// node, which verifies it, counts it and appends it to its log: a node's
// cost grows with the network's job rate. The new design (ledger/wire.go)
// sends a receipt only to its parties and to the holders of its payer's
// and its payee's accounts (ledger.Recipients); a provider about to serve a
// client (its judge) fetches the client's records from the client's holders
// at most once per ledger.SyncEvery, and verifies each one itself. As the
// node does (credits/sync.go), the sync is incremental: its
// ledger.SyncRequest carries After, how far the client's chain counts in
// the judge's book (Book.CountedChain), and SinceMS, the judge's last
// answered sync of the client less ledger.SyncMargin (0 the first time);
// holders answer with Book.RecordsSince. A sync answer, and a holder's
// store request, is kept in one write and one fsync (Ledger.AddAll).
//
// # What is run, what is modelled
//
// Run drives, single-threaded on a simulated clock (nothing sleeps): a real
// ledger.Book per node, with real Ed25519 keys (seeded) and signatures
// checked through the Book's Verifier; receipts signed by both parties,
// each client's chain numbered 1, 2, 3, …; ledger.Recipients,
// Book.CountedChain, Book.RecordsSince, Book.Available; and the wire types (today's ledger topic
// message {"v":1,"receipt":{…}}, ledger.StoreRequest and StoreAnswer,
// ledger.SyncRequest and SyncAnswer) encoded with job.Encode and decoded
// with job.Decode on the receiving side, so that sizes are the real ones
// and what a node adds is what it decoded. Peer names are real libp2p
// Ed25519 peer IDs ("12D3KooW…"), derived from the keys.
//
// Per node it counts the messages and bytes it receives, the wall time of
// the ledger calls made on its behalf (decoding, AddReceipt or AddGrant,
// CountedChain, RecordsSince, Available, encoding: each timed with
// time.Now), what it appends to its log (len(job.Encode(record)) + 9
// bytes of framing per new record), and its log's fsyncs, counted, not
// run: one per record added on its own (a party's own receipt; today, each
// new gossiped record), and one per sync answer or store request that held
// anything new. Ledger.AddAll, which the node uses for those, exists on
// the Ledger only, not on the Book: the simulation adds their records to
// the Book one by one (each verified as AddAll verifies it) and counts the
// one fsync; the write's CPU beyond encoding each record is not counted.
// Signing is not counted (the same in both designs), nor the job protocol
// between client and provider.
//
// Modelled, not run: GossipSub — each node receives each publication from
// each of its D mesh peers (D copies, counted as messages and bytes; the
// pubsub seen-cache drops all but the first, which alone is decoded and
// added); control traffic (IHAVE/IWANT) is left out. Today both parties
// published each receipt (Config.Publishers). The DHT lookup — an
// account's holders are the Config.Holders providers closest by XOR
// distance between SHA-256 of ledger.AccountKey and SHA-256 of their peer
// IDs (as go-libp2p-kbucket orders peers); only providers are DHT servers.
// One receipt per StoreRequest (the node batches what it sends within
// 20 ms; at these rates few batches hold two). The node sends a sync's
// requests to the holders at once: here each carries what the judge held
// before any answer came, and the answers are added in turn (the second
// and third hold nothing new: no fsync). The node's judge also asks the
// client itself, and the payers of earnings that do not count yet (a
// client in this simulation never earns): the client is not asked here.
// No network latency, loss, churn or attack: a record sent reaches its
// recipients before the next job, so a judge that syncs sees every
// receipt the client made before.
// Grants (and fraud proofs, of which an honest run has none) still go to
// every node in both designs: counted once, apart, as setup.
//
// Every node of today's design does the same work, so only
// Config.SampleNodes nodes run it in full (each verifying every receipt)
// and stand for all: 10,000 full books each verifying every receipt would
// take hours. The new design runs every node.
//
// # Checks
//
// A run checks what it drove (Report.Checks): in every book, counted
// balances are never negative and sum to no more than the credits the book
// knows were granted (each judge's book after each sync, every book at the
// end); today's books, which see everything, count every receipt and sum
// to every grant exactly; after each sync the judge never sees the client
// richer than the client sees itself (Balance, Available), and its
// Balance of the client equals the client's own (a client pays and never
// earns, so its own book is its truth): exact still with incremental
// syncs, since what a holder leaves out (the client's chain up to After
// made before SinceMS) the judge holds already — which is checked too,
// for each receipt left out of each incremental answer; and at the end
// each client's own Balance equals what a complete book of today says.
//
// # Limits
//
// Jobs pick a client and a provider at random, so nearly every job is a
// first meeting and syncs; a client that returns to its providers syncs
// less. A judge's first sync of a client (SinceMS 0) carries the client's
// whole history (up to ledger.MaxSyncRecords records from each holder),
// which the judge verifies and logs: the new design's cost per judgment
// grows with the history of the clients judged (Config.History lays one
// down, spread over the day before the measured window), while it does
// not grow with the network's size. Only a judge's later syncs of a
// client — at least ledger.SyncEvery (30 s) apart, so none within the
// default 5 simulated seconds, and rare with random pairings: a pair
// meets about once per Clients × Providers / JobsPerSecond seconds, 4.4
// hours at the default — are incremental: they leave out the chain the judge counts made more
// than ledger.SyncMargin before its last sync (TestResync runs a small
// network long enough to see them). Batching cuts a sync's fsyncs to one,
// not its records, bytes or verifications. CPU times are wall times of one
// thread, garbage collection included, so a node's maximum can be a pause;
// counts are exact and reproducible for a seed, times are not.
//
// # Running it
//
// The tests run a small network and assert on counts:
//
//	go test ./ledger/ledgersim/
//
// The full case (10,000 nodes, 1,000 jobs a second) is a benchmark, and,
// with the scaling view (1,000 nodes at 100 jobs a second, then 10,000 at
// 1,000), a test run on demand:
//
//	go test ./ledger/ledgersim/ -run '^$' -bench LedgerCost -benchtime 1x -timeout 1h -v
//	COMPUTEMESH_LEDGERSIM=1 go test ./ledger/ledgersim/ -run Full -timeout 1h -v
//
// COMPUTEMESH_LEDGERSIM_SECONDS and COMPUTEMESH_LEDGERSIM_HISTORY override
// the simulated seconds and each client's history in both.
package ledgersim
