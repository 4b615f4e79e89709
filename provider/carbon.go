package provider

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
)

// carbonSource is what a provider declares of its power's carbon
// intensity (issue #19): its owner's constant (Options.Carbon) and hourly
// forecast file (Options.CarbonForecast), which the owner keeps current
// and which is read again whenever it changes. A forecast whose every
// hour is past is stale: the constant is declared alone (nothing, without
// one), and the log says so.
type carbonSource struct {
	constant job.Intensity
	path     string
	log      Logger

	mu       sync.Mutex
	mod      time.Time // the file's modification time and size when read
	size     int64
	forecast *job.Forecast
	stale    bool
}

// newCarbonSource reads the forecast file, if any: a file that cannot be
// read or parsed is the owner's configuration's fault (the error names
// the line).
func newCarbonSource(o *Options) (*carbonSource, error) {
	if err := o.Carbon.Validate(); err != nil {
		return nil, configError{fmt.Errorf("carbon intensity: %w", err)}
	}
	cs := &carbonSource{constant: o.Carbon, path: o.CarbonForecast, log: o.Log}
	if cs.path == "" {
		return cs, nil
	}
	if err := cs.reload(); err != nil {
		return nil, configError{fmt.Errorf("carbon forecast: %w", err)}
	}
	return cs, nil
}

// reload reads the forecast file again when it changed since it was last
// read. Called with mu held, or before the source is shared.
func (cs *carbonSource) reload() error {
	st, err := os.Stat(cs.path)
	if err != nil {
		return err
	}
	if cs.forecast != nil && st.ModTime().Equal(cs.mod) && st.Size() == cs.size {
		return nil
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", cs.path)
	}
	if st.Size() > job.MaxForecastFile {
		return fmt.Errorf("%s: %d bytes, limit %d", cs.path, st.Size(), job.MaxForecastFile)
	}
	b, err := readAtMost(cs.path, job.MaxForecastFile)
	if err != nil {
		return err
	}
	f, err := job.ParseForecast(cs.path, b)
	if err != nil {
		return err
	}
	cs.forecast, cs.mod, cs.size = f, st.ModTime(), st.Size()
	return nil
}

// declare is what the capacity record says at now: the constant, and the
// forecast's hours from now's (at most job.MaxForecastHours). Without a
// constant, the record's Carbon is the forecast's intensity of the current
// hour (for the hours past its window). A file that changed is read again;
// one that no longer parses is logged and the last good one kept.
func (cs *carbonSource) declare(now time.Time) (job.Intensity, *job.Forecast) {
	if cs == nil {
		return 0, nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.path == "" {
		return cs.constant, nil
	}
	if err := cs.reload(); err != nil {
		cs.log.Warnw("carbon forecast: keeping the last one read", "file", cs.path, "err", err)
	}
	w := cs.forecast.Window(now, job.MaxForecastHours)
	if w == nil {
		if !cs.stale {
			cs.log.Warnw("carbon forecast is stale: every hour is past; declaring the constant intensity alone (0: none)",
				"file", cs.path, "ends", cs.forecast.End().Format(time.RFC3339), "carbon", int(cs.constant))
		}
		cs.stale = true
		return cs.constant, nil
	}
	cs.stale = false
	carbon := cs.constant
	if carbon == 0 {
		carbon = job.IntensityOver(0, w, now, 0)
	}
	return carbon, w
}

// declared is the carbon intensity and forecast of the provider's last
// published record (a forecast is replaced, never changed, so it may be
// shared).
func (p *Provider) declared() (job.Intensity, *job.Forecast) {
	if p.pub == nil {
		return p.record.Carbon, p.record.Forecast
	}
	p.pub.mu.Lock()
	defer p.pub.mu.Unlock()
	return p.pub.record.Carbon, p.pub.record.Forecast
}

// readAtMost reads the file at path, refusing one that holds more than
// limit bytes when read (it may have grown since it was looked at).
func readAtMost(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return b, nil
}
