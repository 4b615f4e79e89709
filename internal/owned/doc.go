// Package owned gives a long-lived part of a node one owner for its
// goroutines: every goroutine it starts, and every stream handler it
// serves, is counted, and Close waits for all of them. Once Close has
// begun nothing new starts, so no goroutine outlives its owner and the
// count is never added to while Close waits at zero.
package owned
