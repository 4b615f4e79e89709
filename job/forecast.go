package job

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Forecast is a provider's carbon intensity hour by hour: Hours[i] is the
// intensity of the hour that starts i hours after StartMS.
type Forecast struct {
	// StartMS is the start of the first hour, unix ms of a whole hour.
	StartMS int64       `json:"start_ms"`
	Hours   []Intensity `json:"hours"`
}

// Limits of forecasts.
const (
	// MaxForecastHours bounds a forecast in a capacity record: two days
	// from the current hour (a day-ahead forecast fits).
	MaxForecastHours = 48
	// MaxForecastLead bounds how long before its record's expiry a
	// forecast may start (its first hour is the one the record was made
	// in); it may start at most an hour after.
	MaxForecastLead = 48 * time.Hour
	// MaxDefer bounds how far ahead a job's not-before may be (a week:
	// the furthest a deferral looks for a greener hour).
	MaxDefer = 7 * 24 * time.Hour
	// MaxForecastFile bounds a forecast file; MaxForecastFileHours the
	// hours it may hold (two years).
	MaxForecastFile      = 1 << 20
	MaxForecastFileHours = 2 * 366 * 24
)

const hourMS = int64(time.Hour / time.Millisecond)

// Validate checks a forecast of a capacity record: a whole hour to start
// from, 1 to MaxForecastHours hours, each declared and in range.
func (f *Forecast) Validate() error {
	if f.StartMS <= 0 || f.StartMS%hourMS != 0 {
		return fmt.Errorf("forecast.start_ms: %d is not the start of an hour", f.StartMS)
	}
	if len(f.Hours) == 0 || len(f.Hours) > MaxForecastHours {
		return fmt.Errorf("forecast.hours: %d, want 1 to %d", len(f.Hours), MaxForecastHours)
	}
	for i, v := range f.Hours {
		if v <= 0 || v > MaxIntensity {
			return fmt.Errorf("forecast.hours[%d]: %d gCO2e/kWh is out of range (1 to %d)", i, v, MaxIntensity)
		}
	}
	return nil
}

// Start is the start of the forecast's first hour.
func (f *Forecast) Start() time.Time { return time.UnixMilli(f.StartMS).UTC() }

// End is the end of the forecast's last hour.
func (f *Forecast) End() time.Time { return f.Start().Add(time.Duration(len(f.Hours)) * time.Hour) }

// At is the forecast's intensity for the hour t lies in; false when the
// forecast (nil or not) does not cover it.
func (f *Forecast) At(t time.Time) (Intensity, bool) {
	if f == nil {
		return 0, false
	}
	ms := t.UnixMilli() - f.StartMS
	if ms < 0 {
		return 0, false
	}
	i := ms / hourMS
	if i >= int64(len(f.Hours)) {
		return 0, false
	}
	return f.Hours[i], true
}

// Window is the part of f from the hour now lies in, at most n hours:
// what a capacity record carries. nil when f has no hour left (a stale
// forecast).
func (f *Forecast) Window(now time.Time, n int) *Forecast {
	if f == nil {
		return nil
	}
	h := now.Truncate(time.Hour).UnixMilli()
	first := max((h-f.StartMS)/hourMS, 0)
	if first >= int64(len(f.Hours)) {
		return nil
	}
	hours := f.Hours[first:min(int(first)+n, len(f.Hours))]
	return &Forecast{StartMS: f.StartMS + first*hourMS, Hours: append([]Intensity(nil), hours...)}
}

// ParseForecast parses a carbon forecast file: CSV of an RFC 3339 hour
// and an intensity in gCO₂e/kWh a line, e.g. "2026-03-01T14:00:00Z,120",
// consecutive whole hours (UTC), optionally after a header line
// "hour,intensity"; blank lines and lines starting with # are skipped.
// name is the file's name, used in errors, which have the form
// "NAME:LINE: problem".
func ParseForecast(name string, data []byte) (*Forecast, error) {
	if len(data) > MaxForecastFile {
		return nil, fmt.Errorf("%s: %d bytes, limit %d", name, len(data), MaxForecastFile)
	}
	f := &Forecast{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxForecastFile+1)
	line, seen := 0, false
	var prev time.Time
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if !seen && strings.EqualFold(strings.ReplaceAll(text, " ", ""), "hour,intensity") {
			seen = true
			continue
		}
		seen = true
		at, v, err := parseForecastLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		switch {
		case len(f.Hours) == 0:
			f.StartMS = at.UnixMilli()
		case !at.Equal(prev.Add(time.Hour)):
			return nil, fmt.Errorf("%s:%d: hour %s does not follow %s (want %s: consecutive hours)", name, line,
				at.Format(time.RFC3339), prev.Format(time.RFC3339), prev.Add(time.Hour).Format(time.RFC3339))
		case len(f.Hours) >= MaxForecastFileHours:
			return nil, fmt.Errorf("%s:%d: more than %d hours", name, line, MaxForecastFileHours)
		}
		f.Hours, prev = append(f.Hours, v), at
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(f.Hours) == 0 {
		return nil, fmt.Errorf("%s: no hours (want lines of HOUR,INTENSITY, e.g. 2026-03-01T14:00:00Z,120)", name)
	}
	return f, nil
}

// parseForecastLine parses one "HOUR,INTENSITY" line.
func parseForecastLine(text string) (time.Time, Intensity, error) {
	hour, val, ok := strings.Cut(text, ",")
	if !ok || strings.Contains(val, ",") {
		return time.Time{}, 0, fmt.Errorf("%q: want HOUR,INTENSITY (e.g. 2026-03-01T14:00:00Z,120)", text)
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(hour))
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("hour %q: not an RFC 3339 time: %w", strings.TrimSpace(hour), err)
	}
	if !at.Truncate(time.Hour).Equal(at) || at.Unix() <= 0 {
		return time.Time{}, 0, fmt.Errorf("hour %q: not the start of an hour (UTC) after 1970", strings.TrimSpace(hour))
	}
	n, err := strconv.Atoi(strings.TrimSpace(val))
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("intensity %q: not a whole number of gCO2e/kWh: %w", strings.TrimSpace(val), err)
	}
	if n <= 0 || Intensity(n) > MaxIntensity {
		return time.Time{}, 0, fmt.Errorf("intensity %d gCO2e/kWh is out of range (1 to %d)", n, MaxIntensity)
	}
	return at.UTC(), Intensity(n), nil
}
