// Package job holds the leaf types of computemesh: a job's Spec and ID (a
// CID), the gossiped Request and Bid, the Award sent to the winner and the
// Result it returns, plus the Credits amount type used on the wire.
//
// Every decoder in this package has a size limit and refuses what it cannot
// fully validate, naming the field and the limit. Nothing here imports libp2p:
// peer IDs travel as strings and are checked by the mesh layer.
package job
