"""fe2.fem.GradientOperator: the numba kernels against scikit-fem and exact fields."""

import numpy as np
import pytest
import scipy.sparse as sp
import skfem
from skfem.models.elasticity import lame_parameters, linear_elasticity
from skfem.models.poisson import laplace

from fe2.fem import GradientOperator

MESHES = {
    "tri P2": (lambda: skfem.MeshTri().refined(3), skfem.ElementTriP2),
    "quad Q1": (lambda: skfem.MeshQuad().refined(3), skfem.ElementQuad1),
    "tet P1": (lambda: skfem.MeshTet().refined(2), skfem.ElementTetP1),
    "hex Q1": (lambda: skfem.MeshHex().refined(2), skfem.ElementHex1),
}


def _basis(name, vector):
    mesh, elem = MESHES[name]
    e = elem()
    return skfem.Basis(mesh(), skfem.ElementVector(e) if vector else e)


@pytest.mark.parametrize("name", MESHES)
def test_pattern_and_scatter_match_a_coo_assembly(name):
    op = GradientOperator(_basis(name, True), "strain")
    p = op.pattern
    dofs, nb = op.element_dofs.T, op.nb
    rows = np.repeat(dofs, nb, axis=1).ravel()
    cols = np.tile(dofs, (1, nb)).ravel()
    ref = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(op.ndofs,) * 2)
    ref.sum_duplicates()
    np.testing.assert_array_equal(p.indptr, ref.indptr)
    np.testing.assert_array_equal(p.indices, ref.indices)
    row_of = np.repeat(np.arange(op.ndofs), np.diff(p.indptr))
    np.testing.assert_array_equal(row_of[p.scatter], rows)  # entry (e, i, j) lands on
    np.testing.assert_array_equal(p.indices[p.scatter], cols)  # (dofs[e, i], dofs[e, j])


@pytest.mark.parametrize("name", MESHES)
def test_stiffness_equals_scikit_fem_forms(name):
    """Isotropic elasticity and the Laplacian through the generic tangent kernel equal
    scikit-fem's own bilinear forms on the same basis."""
    basis = _basis(name, True)
    d = basis.mesh.dim()
    lam, mu = lame_parameters(10.0, 0.3)
    eye = np.eye(d)
    C = (lam * np.einsum("ij,kl->ijkl", eye, eye)
         + mu * (np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("il,jk->ijkl", eye, eye)))
    op = GradientOperator(basis, "strain")
    T = np.broadcast_to(C[..., None, None], C.shape + op.points_shape)
    K = op.stiffness(T)
    ref = linear_elasticity(lam, mu).assemble(basis)
    assert abs(K - ref).max() <= 1e-12 * abs(ref).max()
    scalar = _basis(name, False)
    ops = GradientOperator(scalar, "gradient")
    Ks = ops.stiffness(np.broadcast_to(eye[..., None, None], (d, d) + ops.points_shape))
    Ls = laplace.assemble(scalar)
    assert abs(Ks - Ls).max() <= 1e-12 * abs(Ls).max()
    # internal force of the linear flux C : eps(u) is K u
    u = np.random.default_rng(1).standard_normal(basis.N)
    flux = np.einsum("ijkl,kl...->ij...", C, op.measure(u))
    np.testing.assert_allclose(op.internal_force(flux), K @ u, atol=1e-11 * np.abs(K @ u).max())


@pytest.mark.parametrize("name", MESHES)
def test_measures_of_an_affine_field_are_exact(name):
    basis = _basis(name, True)
    d = basis.mesh.dim()
    H = np.arange(1.0, d * d + 1).reshape(d, d) / 10.0
    X = basis.doflocs  # (d, N): interleaved components
    u = np.einsum("ij,jn->in", H, X)[np.arange(basis.N) % d, np.arange(basis.N)]
    ones = np.ones(GradientOperator(basis, "strain").points_shape)
    for kind, want in (("gradient", H), ("strain", 0.5 * (H + H.T)),
                       ("deformation_gradient", np.eye(d) + H)):
        g = GradientOperator(basis, kind).measure(u)
        np.testing.assert_allclose(g, want[..., None, None] * ones, atol=1e-13)
    with pytest.raises(ValueError, match="dof vector has shape"):
        GradientOperator(basis, "strain").measure(u[:-1])
