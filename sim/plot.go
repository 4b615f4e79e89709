package sim

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
)

// Goals of issue #5 for computemesh's figures as ratios to the omniscient
// scheduler's (0: no goal at that load).
func goal(metric string, load float64) float64 {
	switch metric {
	case "cost":
		return 1.05
	case "rtt":
		return 1.10
	case "mean":
		switch {
		case math.Abs(load-0.8) < 1e-9:
			return 1.12
		case math.Abs(load-0.95) < 1e-9:
			return 1.25
		}
	}
	return 0
}

// schedulerColor is each scheduler's colour in the chart.
func schedulerColor(kind string) color.RGBA {
	switch kind {
	case Computemesh:
		return color.RGBA{0x1f, 0x6f, 0xb4, 0xff}
	case Random:
		return color.RGBA{0x99, 0x99, 0x99, 0xff}
	case PowerOfTwo:
		return color.RGBA{0xf0, 0x8c, 0x28, 0xff}
	case OmniscientFastest:
		return color.RGBA{0x3c, 0xa0, 0x5a, 0xff}
	}
	return color.RGBA{0, 0, 0, 0xff}
}

// Plot writes a PNG chart of rep: one panel per figure (cost, RTT, mean
// and p99 completion), bars of each scheduler's ratio to the omniscient
// scheduler's per load, the omniscient level (1.0) as a black line and
// the goals as red marks. Standard library only, with its own bitmap font.
func Plot(w io.Writer, rep *Report) error {
	const width, height = 1400, 940
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	black := color.RGBA{0, 0, 0, 0xff}
	c := rep.Config
	title := fmt.Sprintf("schedule quality, ratio to the omniscient scheduler (%d providers, %d jobs/load, %s, seed %d)",
		c.Providers, c.Jobs, c.Policy, c.Seed)
	drawText(img, (width-textWidth(title, 2))/2, 14, title, 2, black)
	panels := []struct {
		name, metric string
		get          func(r *Result) float64
	}{
		{"cost per job", "cost", func(r *Result) float64 { return r.Ratio.Cost }},
		{"RTT to the provider", "rtt", func(r *Result) float64 { return r.Ratio.RTT }},
		{"mean completion", "mean", func(r *Result) float64 { return r.Ratio.CompletionMean }},
		{"p99 completion", "p99", func(r *Result) float64 { return r.Ratio.CompletionP99 }},
	}
	const pw, ph = 680, 400
	for i, p := range panels {
		x0, y0 := 20+(i%2)*(pw+20), 50+(i/2)*(ph+30)
		drawPanel(img, image.Rect(x0, y0, x0+pw, y0+ph), rep, p.name, p.metric, p.get)
	}
	// Legend.
	x, y := 40, height-40
	for _, k := range Schedulers()[:4] {
		fillRect(img, x, y, 20, 14, schedulerColor(k))
		drawText(img, x+28, y, k, 2, black)
		x += 28 + textWidth(k, 2) + 40
	}
	fillRect(img, x, y+6, 30, 3, black)
	drawText(img, x+38, y, "omniscient = 1.0", 2, black)
	x += 38 + textWidth("omniscient = 1.0", 2) + 40
	fillRect(img, x, y+6, 30, 3, color.RGBA{0xd0, 0x20, 0x20, 0xff})
	drawText(img, x+38, y, "goal (computemesh)", 2, black)
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encoding the PNG: %w", err)
	}
	return nil
}

func drawPanel(img *image.RGBA, r image.Rectangle, rep *Report, name, metric string, get func(*Result) float64) {
	black := color.RGBA{0, 0, 0, 0xff}
	grid := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	red := color.RGBA{0xd0, 0x20, 0x20, 0xff}
	drawText(img, r.Min.X+(r.Dx()-textWidth(name, 2))/2, r.Min.Y, name, 2, black)
	kinds := Schedulers()[:4]
	top := 1.5
	for i := range rep.Results {
		if rep.Results[i].Scheduler != Omniscient {
			top = max(top, get(&rep.Results[i])*1.1)
		}
	}
	top = math.Ceil(top*4) / 4
	plot := image.Rect(r.Min.X+60, r.Min.Y+30, r.Max.X-10, r.Max.Y-30)
	yOf := func(v float64) int { return plot.Max.Y - int(v/top*float64(plot.Dy())) }
	step := 0.25
	for top/step > 8 {
		step *= 2
	}
	for v := 0.0; v <= top+1e-9; v += step {
		y := yOf(v)
		fillRect(img, plot.Min.X, y, plot.Dx(), 1, grid)
		label := fmt.Sprintf("%.2f", v)
		drawText(img, plot.Min.X-8-textWidth(label, 1)*2/2, y-3, label, 1, black)
	}
	loads := rep.Config.Loads
	groupW := plot.Dx() / max(1, len(loads))
	barW := groupW / (len(kinds) + 1)
	for li, load := range loads {
		gx := plot.Min.X + li*groupW
		label := fmt.Sprintf("load %.0f%%", load*100)
		drawText(img, gx+(groupW-textWidth(label, 2))/2, plot.Max.Y+8, label, 2, black)
		for ki, k := range kinds {
			res := find(rep, k, load)
			if res == nil {
				continue
			}
			v := get(res)
			bx := gx + barW/2 + ki*barW
			y := yOf(v)
			fillRect(img, bx+2, y, barW-4, plot.Max.Y-y, schedulerColor(k))
			vl := fmt.Sprintf("%.2f", v)
			drawText(img, bx+(barW-textWidth(vl, 1))/2, y-10, vl, 1, black)
		}
		if g := goal(metric, load); g > 0 {
			y := yOf(g)
			for x := gx + barW/2; x < gx+barW*3/2; x += 8 {
				fillRect(img, x, y-1, 5, 3, red)
			}
		}
	}
	fillRect(img, plot.Min.X, yOf(1), plot.Dx(), 2, black)
	fillRect(img, plot.Min.X, plot.Min.Y, 1, plot.Dy(), black)
	fillRect(img, plot.Min.X, plot.Max.Y, plot.Dx(), 1, black)
}

func find(rep *Report, kind string, load float64) *Result {
	for i := range rep.Results {
		if rep.Results[i].Scheduler == kind && rep.Results[i].Load == load {
			return &rep.Results[i]
		}
	}
	return nil
}
