# # Symmetric models: equal wells and the hopping rate between them
#
# The two-layer linear net L = ½(θ1θ2 − 1)² with SGD noise has two branches
# of minima, θ1θ2 = 1 in the first and in the third quadrant.  The point
# reflection θ → −θ maps one onto the other and keeps the loss and the
# diffusion tensor D = (T/2)H² (docs/model.md §7, "Symmetries").  With a high
# barrier between the branches (½ at the origin) λ0 and λ1 nearly coincide,
# and a solve that breaks the symmetry by round-off puts all the mass in one
# branch.  fpsolve finds the symmetry symbolically, meshes the disk as a half
# disk and its image under θ → −θ, and returns the symmetric density; λ1 − λ0
# is then the rate of hopping between the branches.

from mpi4py import MPI

from fpsolve.fem import stationary as solver
from fpsolve.model import symmetry
from fpsolve.model.expression import Model

say = print if MPI.COMM_WORLD.rank == 0 else (lambda *a: None)

# ## The symmetries, found from the expressions
#
# θ → −θ, the swap θ1 ↔ θ2 and the anti-swap (θ1, θ2) → (−θ2, −θ1); not the
# mirrors θ1 → −θ1 or θ2 → −θ2.

model = Model.from_expression("0.5*(theta1*theta2 - 1)**2", T=0.2)
found = symmetry.find(model).names
say("symmetries:", found)

# ## The symmetric density and the hopping rate
#
# T = 0.2: the barrier is crossed often enough that λ1 − λ0 stands far above
# the eigen-solve's round-off; the adaptive loop checks it against the
# previous mesh before it trusts it.

s = solver.solve(model).summary
sym = s["symmetry"]
say(f"mean theta = ({s['mean_theta1']:.1e}, {s['mean_theta2']:.1e}), mean |theta1| = {s['mean_abs_theta1']:.6f}")
say(f"escape rate lambda0 = {s['escape_rate']:.6g}, hopping rate lambda1 - lambda0 = {sym['hopping_rate']:.4g} "
    f"(trusted: {sym['hopping_rate_trusted']}, {sym['hopping']['trust_reason']})")

# Both branches carry the same mass, so the means vanish to round-off, and
# the hopping is slow beside the escape through the wall: a walker leaves the
# disk about 2000 times before it changes branch.

assert found == ("point", "swap", "anti-swap")
assert abs(s["mean_theta1"]) < 1e-10 and abs(s["mean_theta2"]) < 1e-10
assert sym["hopping_rate_trusted"] and abs(sym["hopping_rate"] / 2.087e-4 - 1) < 2e-3
