package main

import (
	"fmt"
	"image"
	"io"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/facevault/facevault/internal/dashboard"
)

// maxLines is how many lines a panel shows: those with the largest values.
const maxLines = 6

// drawPanels renders every panel of the dashboard from the scrapes, two a row,
// as a PNG, with a 5-second window for rates and quantiles.
func drawPanels(w io.Writer, scrapes []scrape) error {
	const cols, width, rowHeight = 2, 1600, 330
	rows := (len(dashboard.Panels) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, p := range dashboard.Panels {
		pl, err := panelPlot(p, panelSeries(p, scrapes, 5))
		if err != nil {
			return err
		}
		plots[i/cols][i%cols] = pl
	}
	img := image.NewRGBA(image.Rect(0, 0, width, rows*rowHeight))
	c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(96))
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(12), PadY: vg.Points(12),
		PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		for col := range plots[r] {
			if plots[r][col] != nil {
				plots[r][col].Draw(canvases[r][col])
			}
		}
	}
	_, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w)
	return err
}

func panelPlot(p dashboard.Panel, lines map[string][]point) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	if len(lines) == 0 {
		pl.Title.Text += " (no data in this run)"
	}
	pl.X.Label.Text = "seconds into the run"
	pl.Y.Label.Text = p.Unit
	pl.Y.Min = 0
	pl.Add(plotter.NewGrid())
	type named struct {
		name string
		pts  []point
		peak float64
	}
	var all []named
	for name, pts := range lines {
		var peak float64
		for _, q := range pts {
			peak = max(peak, q.v)
		}
		if name == "" {
			name = p.Title
		}
		all = append(all, named{name, pts, peak})
	}
	slices.SortFunc(all, func(a, b named) int {
		if a.peak != b.peak {
			if a.peak > b.peak {
				return -1
			}
			return 1
		}
		if a.name < b.name {
			return -1
		}
		return 1
	})
	if len(all) > maxLines {
		all = all[:maxLines]
	}
	slices.SortFunc(all, func(a, b named) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	for i, l := range all {
		xys := make(plotter.XYs, len(l.pts))
		for j, q := range l.pts {
			xys[j] = plotter.XY{X: q.t, Y: q.v}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("panel %q, %s: %w", p.Title, l.name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		pl.Add(line)
		pl.Legend.Add(l.name, line)
	}
	pl.Legend.Top = true
	pl.Legend.TextStyle.Font.Size = vg.Points(8)
	return pl, nil
}
