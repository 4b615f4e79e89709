package sim

import "io"

// Plot writes a PNG chart of rep.
func Plot(w io.Writer, rep *Report) error { return nil }
