package evaluate

import (
	"fmt"
	"image"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot sizes, in pixels, of WritePlot's image.
const (
	PlotWidth  = 800
	PlotHeight = 800
	plotDPI    = 96
)

// WritePlot draws the ROC curve of each score in r as a PNG of
// PlotWidth×PlotHeight pixels: the share of spoof photos accepted (APCER)
// across, the share of genuine photos accepted (1 − BPCER) up, as the
// threshold falls; each curve starts at (0, 0) above the highest score and
// ends at (100%, 100%) where even photos without a face would be accepted.
// The configured threshold is marked on each curve, and the legend gives
// each score's AUC. A score whose APCER or BPCER is undefined (no spoof or
// no genuine photos) has no curve.
//
// ROC rather than DET: a DET plot's normal-deviate axes cannot show an
// error rate of 0 or 100%, which with few attack photos (3 in the
// development set) is where most points lie.
func WritePlot(w io.Writer, r *Report) error {
	p := plot.New()
	g := r.GenuineVsSpoof
	p.Title.Text = fmt.Sprintf("ROC, genuine vs spoof (%d genuine, %d spoof photos)", g.Genuine, g.Spoof)
	p.X.Label.Text = "APCER: spoof photos accepted (%)"
	p.Y.Label.Text = "1 − BPCER: genuine photos accepted (%)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 100, 0, 100
	p.X.Tick.Marker, p.Y.Tick.Marker = percentTicks, percentTicks
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), vg.Points(8)
	p.Add(plotter.NewGrid())

	chance, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 100, Y: 100}})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	chance.Color = color.Gray{Y: 160}
	chance.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(chance)
	p.Legend.Add("chance (AUC 0.5)", chance)

	for i, s := range g.Scores {
		if g.Genuine == 0 || g.Spoof == 0 {
			break
		}
		pts := plotter.XYs{{X: 0, Y: 0}}
		for _, op := range s.ROC {
			pts = append(pts, xy(op))
		}
		pts = append(pts, plotter.XY{X: 100, Y: 100})
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(2)
		p.Add(line)
		label := s.Name
		if s.AUC != nil {
			label = fmt.Sprintf("%s (AUC %.3f)", s.Name, *s.AUC)
		}
		p.Legend.Add(label, line)
		if s.Configured != nil {
			mark, err := plotter.NewScatter(plotter.XYs{xy(*s.Configured)})
			if err != nil {
				return fmt.Errorf("plot %s: %w", s.Name, err)
			}
			mark.Color = plotutil.Color(i)
			mark.Shape = draw.BoxGlyph{}
			mark.Radius = vg.Points(5)
			p.Add(mark)
			p.Legend.Add(fmt.Sprintf("%s ≥ %s (configured)", s.Name, number(s.Configured.Threshold)), mark)
		}
	}

	c := vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, PlotWidth, PlotHeight))), vgimg.UseDPI(plotDPI))
	p.Draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("plot: write PNG: %w", err)
	}
	return nil
}

// percentTicks marks every 10% and labels every 20%.
var percentTicks = plot.TickerFunc(func(_, _ float64) []plot.Tick {
	var ts []plot.Tick
	for v := 0; v <= 100; v += 10 {
		t := plot.Tick{Value: float64(v)}
		if v%20 == 0 {
			t.Label = fmt.Sprint(v)
		}
		ts = append(ts, t)
	}
	return ts
})

// xy is an operating point as a point of the ROC plot, in percent.
func xy(op OperatingPoint) plotter.XY {
	a, _ := op.APCER.Value()
	b, _ := op.BPCER.Value()
	return plotter.XY{X: 100 * a, Y: 100 * (1 - b)}
}
