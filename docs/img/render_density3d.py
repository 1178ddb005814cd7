"""README's picture of a 3-D density: ParaView iso-surfaces of density.xdmf at 1 %, 10 % and 50 % of its maximum.

Run with ParaView's batch interpreter (Debian: ``apt install paraview xvfb``; not a
dependency of fpsolve), on the output of ``solve_fp.py --fast-directions 2``::

    xvfb-run -a pvbatch docs/img/render_density3d.py fem-N3/<case>/density.xdmf docs/img/density3d.png [HX HY HZ]

HX HY HZ: half-widths of the box drawn (default 1.15 0.5 0.5, the m = 2 valley at T = 0.05).
"""
import sys
from paraview.simple import *
path, out = sys.argv[1], sys.argv[2]
half = [float(v) for v in sys.argv[3:6]] if len(sys.argv) > 5 else [1.15, 0.5, 0.5]
src = XDMFReader(FileNames=[path])
src.UpdatePipeline()
lo, hi = src.PointData["density"].GetRange()
view = GetActiveViewOrCreate("RenderView")
view.ViewSize = [1200, 700]
view.Background = [1, 1, 1]
try:
    view.UseColorPaletteForBackground = 0
except AttributeError:
    pass
box = Clip(Input=src)
box.ClipType = "Box"
box.ClipType.Position = [-half[0], -half[1], -half[2]]
box.ClipType.Length = [2 * half[0], 2 * half[1], 2 * half[2]]
box.Invert = 1
lut = GetColorTransferFunction("density")
lut.ApplyPreset("Viridis (matplotlib)", True)
lut.RescaleTransferFunction(0.0, hi)
for level, opacity in ((0.01, 0.25), (0.1, 0.45), (0.5, 1.0)):
    iso = Contour(Input=box, ContourBy=["POINTS", "density"], Isosurfaces=[level * hi])
    iso.ComputeScalars = 1
    shown = Show(iso, view)
    ColorBy(shown, ("POINTS", "density"))
    shown.LookupTable = lut
    shown.Opacity = opacity
lut.AutomaticRescaleRangeMode = "Never"
lut.RescaleTransferFunction(0.0, hi)
frame = Show(Outline(Input=box), view)
frame.DiffuseColor = frame.AmbientColor = [0.4, 0.4, 0.4]
bar = GetScalarBar(lut, view)
bar.Title = "density"
bar.ComponentTitle = ""
bar.TitleColor = bar.LabelColor = [0, 0, 0]
bar.Visibility = 1
view.OrientationAxesVisibility = 0
view.AxesGrid.Visibility = 1
view.AxesGrid.XTitle, view.AxesGrid.YTitle, view.AxesGrid.ZTitle = "theta1", "theta2", "theta3"
for a in ("XTitleColor", "YTitleColor", "ZTitleColor", "XLabelColor", "YLabelColor", "ZLabelColor", "GridColor"):
    setattr(view.AxesGrid, a, [0, 0, 0])
view.CameraPosition = [0.9, -2.6, 1.5]
view.CameraFocalPoint = [0, 0, 0]
view.CameraViewUp = [0, 0, 1]
view.ResetCamera(False)
GetActiveCamera().Zoom(1.25)
Render(view)
SaveScreenshot(out, view, ImageResolution=[1200, 700])
print("wrote", out)
