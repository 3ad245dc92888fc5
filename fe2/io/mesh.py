"""Read meshes from any meshio format into scikit-fem, with named tags.

``read_mesh`` builds a linear :class:`skfem.MeshTri1`, :class:`skfem.MeshQuad1`,
:class:`skfem.MeshTet1` or :class:`skfem.MeshHex1`.  The cell type of highest
dimension is the domain; cells of one dimension lower carrying a physical tag
become named boundaries (``mesh.boundaries``: name -> facet indices) and tagged
domain cells become named subdomains (``mesh.subdomains``: name -> element
indices).  Tags come from gmsh physical groups (MSH 2.2 and 4.1, through
meshio's ``cell_sets`` / ``gmsh:physical`` + ``field_data``) or from any
meshio ``cell_sets``; a physical group without a name is called by its number.

Every element is checked: clockwise (negative Jacobian) but otherwise valid
elements are reoriented, degenerate, tangled or non-convex ones raise
:class:`MeshError`.  Vertices used by no domain cell (for instance gmsh
geometry points) are dropped.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import meshio
import numpy as np
from numpy.typing import NDArray
from skfem import Mesh, MeshHex1, MeshQuad1, MeshTet1, MeshTri1
from skfem.io.meshio import HEX_MAPPING, INV_HEX_MAPPING, from_meshio

__all__ = ["MeshError", "read_mesh", "boundary_facets", "subdomain_elements"]

logger = logging.getLogger(__name__)

#: Relative Jacobian below which an element counts as degenerate.  The
#: relative Jacobian at a vertex is ``det J / prod(|edges at the vertex|)``,
#: the sine of the corner angle in 2D; it is scale invariant.
DEGENERATE_RTOL = 1e-8

# meshio cell type -> (skfem mesh class, facet cell type, local vertex order)
_DOMAIN_TYPES: dict[str, tuple[type[Mesh], str, list[int] | None]] = {
    "triangle": (MeshTri1, "line", None),
    "quad": (MeshQuad1, "line", None),
    "tetra": (MeshTet1, "triangle", None),
    # meshio/VTK hexahedron vertex numbering -> scikit-fem's
    "hexahedron": (MeshHex1, "quad", list(INV_HEX_MAPPING[:8])),
}
_SUPPORTED = ", ".join(_DOMAIN_TYPES)

_CELL_DIM = {
    "vertex": 0,
    "line": 1, "line3": 1, "line4": 1,
    "triangle": 2, "triangle6": 2, "triangle7": 2, "triangle10": 2,
    "quad": 2, "quad8": 2, "quad9": 2, "polygon": 2,
    "tetra": 3, "tetra10": 3, "tetra20": 3, "hexahedron": 3, "hexahedron20": 3,
    "hexahedron27": 3, "wedge": 3, "wedge15": 3, "wedge18": 3, "pyramid": 3,
    "pyramid13": 3, "pyramid14": 3, "polyhedron": 3,
}


class MeshError(ValueError):
    """A mesh file that cannot be read, or a tag that does not exist.

    The message is one line naming the file and, where it applies, the
    element, the tag or the value at fault.
    """


def read_mesh(path: str | PathLike) -> Mesh:
    """Read a mesh file (any meshio format) into a linear scikit-fem mesh.

    Parameters
    ----------
    path
        Mesh file, e.g. a gmsh ``.msh`` (MSH 2.2 or 4.1), ``.vtu`` or ``.xdmf``.

    Returns
    -------
    skfem.Mesh
        ``MeshTri1``, ``MeshQuad1``, ``MeshTet1`` or ``MeshHex1`` with
        ``p: (d, n_vertices)`` and ``t: (n_local_vertices, n_elements)``, every
        element with positive Jacobian.  Triangle meshes are built with
        ``sort_t=False`` (counter-clockwise vertex order instead of scikit-fem's
        default sorted order; only ``ElementGlobal`` elements such as Morley or
        Argyris rely on the sorted order).  ``mesh.boundaries`` maps each tag
        name to facet indices ``(n_facets_in_tag,)``, ``mesh.subdomains`` maps
        each name to element indices; either is None when the file has no tags
        of that kind.  A 2D mesh stored with a z coordinate drops it when it is
        identically zero.

    Raises
    ------
    MeshError
        One line naming the file and what is wrong with it: missing, a
        folder, empty, an unknown extension, not the format its extension
        says (a ``.msh`` without ``$MeshFormat``, a ``.vtu`` that is not VTK
        XML), an unsupported gmsh version, truncated (a gmsh section without
        its ``$End...`` line, a VTU without ``</VTKFile>``), no elements or
        only line/vertex cells, a bad node index (an element referring to a
        node the file does not define, including negative indices), a
        non-finite node coordinate, unsupported or mixed cell types, a 2D
        mesh that is not in the plane z = 0, a degenerate, tangled or
        non-convex element, or a tagged facet that is not a facet of the
        domain mesh.
    """
    path = Path(path)
    name = str(path)
    m = _read_meshio(path, name)

    blocks = [(c.type, np.asarray(c.data)) for c in m.cells]
    blocks = [(tp, data) for tp, data in blocks if data.size]
    if not blocks:
        raise MeshError(f"{name}: the file contains no elements (no cells)")
    unknown = sorted({b[0] for b in blocks if b[0] not in _CELL_DIM})
    if unknown:
        raise MeshError(f"{name}: unsupported cell type(s) {', '.join(unknown)}; "
                        f"supported domain cells: {_SUPPORTED} (linear)")
    _check_nodes(np.asarray(m.points), blocks, name)
    dim = max(_CELL_DIM[b[0]] for b in blocks)
    if dim < 2:
        kinds = ", ".join(sorted({b[0] for b in blocks}))
        raise MeshError(f"{name}: the file has no 2D or 3D elements, only {kinds} cells; "
                        f"supported domain cells: {_SUPPORTED} (linear)")
    domain_types = sorted({b[0] for b in blocks if _CELL_DIM[b[0]] == dim})
    if len(domain_types) > 1:
        raise MeshError(f"{name}: mixed domain cell types {', '.join(domain_types)}; "
                        f"one of {_SUPPORTED} is supported")
    cell_type = domain_types[0]
    if cell_type not in _DOMAIN_TYPES:
        hint = " (re-mesh with first-order elements)" if cell_type[-1].isdigit() else ""
        raise MeshError(f"{name}: unsupported cell type '{cell_type}'{hint}; "
                        f"supported domain cells: {_SUPPORTED} (linear)")
    mesh_cls, facet_type, order = _DOMAIN_TYPES[cell_type]

    domain_ids = [k for k, (tp, _) in enumerate(blocks) if tp == cell_type]
    t = np.concatenate([blocks[k][1] for k in domain_ids]).T
    if order is not None:
        t = t[order]

    points = np.asarray(m.points, dtype=np.float64)
    if points.shape[1] < dim:
        raise MeshError(f"{name}: {cell_type} cells need {dim} coordinates, "
                        f"the points have {points.shape[1]}")
    if points.shape[1] > dim:
        extra = points[:, dim:]
        if np.any(extra != 0.0):
            raise MeshError(f"{name}: {dim}D cells with a nonzero coordinate {dim}: "
                            f"max |value| = {np.abs(extra).max():.6g} (expected 0)")
        points = points[:, :dim]

    # drop vertices that no domain cell uses and renumber
    used = np.unique(t)
    renumber = np.full(points.shape[0], -1, dtype=np.int64)
    renumber[used] = np.arange(used.size)
    if used.size < points.shape[0]:
        logger.debug("%s: dropping %d vertices used by no %s cell",
                     name, points.shape[0] - used.size, cell_type)
    p = np.ascontiguousarray(points[used].T)
    t = np.ascontiguousarray(renumber[t], dtype=np.int32)

    t = _orient(p, t, mesh_cls, cell_type, name)

    # named cell sets: name -> {block index: local cell indices}
    sets = _cell_sets(m, blocks)
    offsets = {}
    n = 0
    for k in domain_ids:
        offsets[k] = n
        n += blocks[k][1].shape[0]

    # One clean meshio mesh (the used vertices, the oriented domain cells, the tagged
    # facets, one named cell set per tag), handed to scikit-fem's from_meshio, which
    # builds the mesh and matches the tagged facets and elements to it.
    subdomains: dict[str, NDArray[np.int64]] = {}
    facets: dict[str, NDArray[np.int64]] = {}
    for set_name, members in sets.items():
        elems = [offsets[k] + idx for k, idx in members.items() if k in offsets]
        if elems:
            subdomains[set_name] = np.unique(np.concatenate(elems))
        found = []
        for k, idx in members.items():
            tp = blocks[k][0]
            if tp == facet_type:
                found.append(blocks[k][1][idx])
            elif _CELL_DIM[tp] == dim - 1:
                raise MeshError(f"{name}: boundary '{set_name}' has {tp} cells, but the "
                                f"facets of {cell_type} cells are {facet_type}")
        if found:
            verts = renumber[np.concatenate(found)]
            if np.any(verts < 0):
                raise MeshError(f"{name}: boundary '{set_name}' uses vertices that belong to "
                                "no domain cell")
            facets[set_name] = np.unique(np.sort(verts, axis=1), axis=0)
    return _to_skfem(p, t, cell_type, facet_type, subdomains, facets, name)


def _to_skfem(p: NDArray, t: NDArray, cell_type: str, facet_type: str,
              subdomains: dict[str, NDArray], facets: dict[str, NDArray], name: str) -> Mesh:
    """Build the scikit-fem mesh with :func:`skfem.io.meshio.from_meshio`.

    ``p (d, n_vertices)``, ``t (n_local, n_elements)`` in scikit-fem's vertex order,
    ``subdomains``: name -> element indices, ``facets``: name -> facet vertices
    ``(n_tagged, n_facet_vertices)``. A tagged facet that is not a facet of the
    domain mesh raises :class:`MeshError`.
    """
    cells_t = t if cell_type != "hexahedron" else t[HEX_MAPPING[:8]]  # meshio's order
    fcells = [f for f in facets.values()]
    fblock = (np.concatenate(fcells) if fcells
              else np.zeros((0, t.shape[0] // 2 if cell_type == "hexahedron" else t.shape[0] - 1),
                            dtype=np.int64))
    cell_sets: dict[str, list[NDArray]] = {}
    none = np.zeros(0, dtype=np.int64)
    for set_name, elems in subdomains.items():
        cell_sets[f"subdomain:{set_name}"] = [elems, none]
    start = 0
    for set_name, f in facets.items():
        cell_sets[f"boundary:{set_name}"] = [none, np.arange(start, start + len(f))]
        start += len(f)
    m = meshio.Mesh(p.T, [(cell_type, cells_t.T), (facet_type, fblock)], cell_sets=cell_sets)
    mesh = from_meshio(m, ignore_orientation=True)
    boundaries = {k.split(":", 1)[1]: np.unique(v).astype(np.int32)
                  for k, v in (mesh.boundaries or {}).items() if k.startswith("boundary:")}
    for set_name, f in facets.items():
        got = boundaries.get(set_name, np.zeros(0, np.int32))
        if got.size != len(f):
            raise MeshError(f"{name}: {len(f) - got.size} of {len(f)} cells of boundary "
                            f"'{set_name}' are not facets of the domain mesh")
    subs = {k.split(":", 1)[1]: np.asarray(v, dtype=np.int32)
            for k, v in (mesh.subdomains or {}).items() if k.startswith("subdomain:")}
    # from_meshio sorts the vertices of triangles (MeshTri1.sort_t); keep fe2's oriented,
    # counter-clockwise order. Facets are numbered by their sorted vertex sets, so the
    # facet indices found above hold for either order.
    kw = {"sort_t": False} if isinstance(mesh, MeshTri1) else {}
    out = type(mesh)(mesh.p, np.ascontiguousarray(t, dtype=np.int32),
                     _boundaries=boundaries or None, _subdomains=subs or None, **kw)
    if boundaries and not np.array_equal(np.sort(out.facets, axis=0),
                                         np.sort(mesh.facets, axis=0)):
        raise RuntimeError(f"{name}: facet numbering changed with the vertex order")
    return out


def _read_meshio(path: Path, name: str) -> meshio.Mesh:
    """Check the file (exists, not empty, known format, complete), then read it with meshio.

    Every failure is a :class:`MeshError` saying what is wrong with the file:
    missing, empty, unknown extension, not the format its extension says,
    truncated (a gmsh section or the VTU document not closed), or a bad node
    index; meshio's own message follows only when none of these applies.
    """
    if path.is_dir():
        raise MeshError(f"{name}: is a folder, not a mesh file")
    if not path.is_file():
        raise MeshError(f"mesh file not found: {name}")
    if path.stat().st_size == 0:
        raise MeshError(f"{name}: the file is empty (0 bytes)")
    ext = _extension(path)
    if ext is None:
        what = f"'{path.suffix}'" if path.suffix else "no extension"
        raise MeshError(
            f"{name}: unknown mesh format ({what}); expected a gmsh .msh, a .vtu, .vtk or "
            ".xdmf file, or another format meshio reads (.inp, .med, .mesh, .obj, ...)"
        )
    if ext == ".msh":
        _check_gmsh(path, name)
    elif ext == ".vtu":
        _check_vtu(path, name)
    # meshio tries every reader for an extension, prints the failures and calls
    # sys.exit when none works: name the format for .msh, capture its chatter
    file_format = "gmsh" if ext == ".msh" else None
    fmt = "gmsh" if ext == ".msh" else meshio.extension_to_filetypes[ext][0]
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            return meshio.read(path, file_format=file_format)
    except (Exception, SystemExit) as exc:  # meshio raises many kinds on bad input
        text = str(exc) if not isinstance(exc, SystemExit) else ""
        bad = _OUT_OF_BOUNDS.search(text)
        if isinstance(exc, IndexError) and bad and ext == ".msh":
            raise MeshError(
                f"{name}: bad node index: an element refers to node tag {int(bad[1]) + 1}, but "
                f"the largest node tag in $Nodes is {bad[2]}"
            ) from exc
        if isinstance(exc, ValueError) and ("reshape" in text or "broadcast" in text):
            raise MeshError(
                f"{name}: malformed {fmt} file: a section's node or element count does not "
                f"match the data that follows (edited or truncated file?) (meshio: {text})"
            ) from exc
        words = chatter.getvalue().split()
        if not isinstance(exc, SystemExit):
            words = [f"{type(exc).__name__}:", *text.split(), *words]
        detail = " ".join(words) or "unknown reason"
        hint = (" (its sections are complete, so a count or an entry inside one is wrong: "
                "edited file?)" if ext == ".msh" else "")
        raise MeshError(f"{name}: cannot read mesh as {fmt}{hint}: {detail}") from exc


_OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis \d+ with size (\d+)")


def _extension(path: Path) -> str | None:
    """The meshio extension of ``path`` (longest match, e.g. ``.vol.gz``), or None."""
    low = path.name.lower()
    hits = [e for e in meshio.extension_to_filetypes if low.endswith(e)]
    return max(hits, key=len) if hits else None


def _first_line(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(256)
    return head.lstrip().split(b"\n", 1)[0].strip()


def _check_gmsh(path: Path, name: str) -> None:
    """A gmsh file: ``$MeshFormat`` header, a supported version, every section closed."""
    first = _first_line(path)
    if first != b"$MeshFormat":
        raise MeshError(
            f"{name}: not a gmsh mesh: the file starts with {_show(first)}, expected "
            "'$MeshFormat'"
        )
    with open(path, "rb") as fh:
        fh.readline()
        header = fh.readline().split()
    try:
        version, binary = header[0].decode(), int(header[1]) == 1
    except (IndexError, ValueError, UnicodeDecodeError):
        raise MeshError(
            f"{name}: malformed $MeshFormat line {_show(b' '.join(header))}; expected "
            "'<version> <file-type> <data-size>', e.g. '4.1 0 8'"
        ) from None
    if version.split(".")[0] not in ("2", "4"):
        raise MeshError(f"{name}: gmsh format version {version} is not supported "
                        "(2.2 and 4.1 are; re-export with Mesh.MshFileVersion = 4.1)")
    if binary:
        # binary data may hold any bytes: only the last line is checked
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 256))
            last = fh.read().rstrip().rsplit(b"\n", 1)[-1].strip()
        if not last.startswith(b"$End"):
            raise MeshError(f"{name}: truncated gmsh file: it ends inside a section "
                            f"(last line {_show(last)}, expected a '$End...' line)")
        return
    opened: tuple[str, int] | None = None
    seen = set()
    n = 0
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.startswith(b"$"):
                continue
            word = raw.strip().decode("ascii", "replace")
            if opened is None:
                if word.startswith("$End"):
                    raise MeshError(f"{name}: line {n}: {word} closes no open section")
                opened = (word[1:], n)
                continue
            if word == f"$End{opened[0]}":
                seen.add(opened[0])
                opened = None
            elif not raw.endswith(b"\n") and f"$End{opened[0]}".startswith(word):
                break  # the file ends inside the closing line: truncated (below)
            else:
                raise MeshError(
                    f"{name}: line {n}: {word} inside section ${opened[0]} (opened at line "
                    f"{opened[1]}); expected $End{opened[0]} first (edited or truncated file?)"
                )
    if opened is not None:
        raise MeshError(
            f"{name}: truncated gmsh file: section ${opened[0]} (opened at line {opened[1]}) "
            f"has no $End{opened[0]}; the file ends at line {n}"
        )
    for section in ("Nodes", "Elements"):
        if section not in seen:
            raise MeshError(f"{name}: the gmsh file has no ${section} section"
                            + (" (no elements)" if section == "Elements" else " (no nodes)"))


def _check_vtu(path: Path, name: str) -> None:
    """A VTK XML unstructured grid: XML header, closed ``</VTKFile>``, some cells."""
    first = _first_line(path)
    if not (first.startswith(b"<?xml") or first.startswith(b"<VTKFile")):
        raise MeshError(f"{name}: not a VTU (VTK XML) file: it starts with {_show(first)}, "
                        "expected '<?xml' or '<VTKFile'")
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        fh.seek(max(0, path.stat().st_size - 1024))
        tail = fh.read()
    if b"</VTKFile>" not in tail:
        raise MeshError(f"{name}: truncated VTU file: it does not end with </VTKFile>")
    counts = [int(c) for c in re.findall(rb'NumberOfCells="(\d+)"', head)]
    if counts and not any(counts):
        raise MeshError(f"{name}: the file contains no elements (NumberOfCells=\"0\")")


def _show(line: bytes) -> str:
    """A file's line for a message: text shortened, or a note that it is binary."""
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return "binary data"
    if not text.isprintable():
        return "binary data"
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _check_nodes(points: NDArray, blocks: list, name: str) -> None:
    """Every cell's node indices in ``0 .. n_points-1``; every node coordinate finite."""
    npts = points.shape[0]
    for tp, data in blocks:
        data = np.asarray(data)
        if not np.issubdtype(data.dtype, np.integer):
            raise MeshError(f"{name}: {tp} cells have non-integer node indices "
                            f"(dtype {data.dtype})")
        bad = (data < 0) | (data >= npts)
        if np.any(bad):
            j, k = np.argwhere(bad)[0]
            raise MeshError(
                f"{name}: bad node index: {tp} cell {j} refers to node {int(data[j, k])}, but the "
                f"file has {npts} nodes (valid indices 0..{npts - 1})"
            )
    if not np.all(np.isfinite(points)):
        i = int(np.argwhere(~np.all(np.isfinite(points), axis=1))[0][0])
        raise MeshError(f"{name}: node {i} has a non-finite coordinate "
                        f"{np.array2string(points[i])}")


def _cell_sets(m: meshio.Mesh, blocks: list) -> dict[str, dict[int, NDArray[np.int64]]]:
    """Collect named cell sets: meshio ``cell_sets`` first, then gmsh physical tags."""
    sets: dict[str, dict[int, NDArray[np.int64]]] = {}
    for set_name, per_block in (m.cell_sets or {}).items():
        if set_name.startswith("gmsh:"):
            continue
        members = {}
        for k, idx in enumerate(per_block):
            if idx is not None and len(idx) > 0:
                members[k] = np.asarray(idx, dtype=np.int64)
        if members:
            sets[set_name] = members

    physical = (m.cell_data or {}).get("gmsh:physical")
    if physical is not None:
        names = {(int(v[0]), int(v[1])): key for key, v in (m.field_data or {}).items()
                 if np.size(v) >= 2}
        from_tags: dict[str, dict[int, NDArray[np.int64]]] = {}
        for k, tags in enumerate(physical):
            tags = np.asarray(tags)
            cell_dim = _CELL_DIM[blocks[k][0]]
            for tag in np.unique(tags):
                key = names.get((int(tag), cell_dim), str(int(tag)))
                from_tags.setdefault(key, {})[k] = np.nonzero(tags == tag)[0]
        for key, members in from_tags.items():
            sets.setdefault(key, members)  # cell_sets win (they know multiple groups)
    return sets


def _corner_jacobians(p: NDArray, t: NDArray, mesh_cls: type[Mesh]) -> tuple[NDArray, NDArray]:
    """Jacobian determinants at element corners and their scale-free versions.

    Returns ``(det, rel)``, both ``(n_elements, n_corners)``: ``det`` is the
    Jacobian determinant of the reference-to-physical map at each corner (exact
    for simplices and multilinear quads/hexes), ``rel`` divides it by the
    product of the edge lengths at that corner.  Simplices have a constant
    Jacobian and report one corner.
    """
    ref = mesh_cls.elem.refdom.p  # (d, n_local)
    d = ref.shape[0]
    simplex = mesh_cls in (MeshTri1, MeshTet1)
    corners = [0] if simplex else range(ref.shape[1])
    dets, rels = [], []
    for v in corners:
        edges = []
        for a in range(d):
            target = ref[:, v].copy()
            target[a] = 1.0 - target[a] if not simplex else 1.0
            nb = int(np.nonzero(np.all(np.isclose(ref.T, target), axis=1))[0][0])
            sign = 1.0 if simplex else 1.0 - 2.0 * ref[a, v]
            edges.append(sign * (p[:, t[nb]] - p[:, t[v]]))  # (d, n_el)
        J = np.stack(edges, axis=1)  # (d, d, n_el): columns are reference axes
        det = np.linalg.det(np.moveaxis(J, -1, 0))
        scale = np.prod([np.linalg.norm(e, axis=0) for e in edges], axis=0)
        dets.append(det)
        with np.errstate(divide="ignore", invalid="ignore"):
            rels.append(np.where(scale > 0, det / np.where(scale > 0, scale, 1.0), 0.0))
    return np.stack(dets, axis=1), np.stack(rels, axis=1)


def _flip_permutation(mesh_cls: type[Mesh]) -> NDArray[np.int64]:
    """Local vertex permutation that mirrors the reference cell (swap x and y)."""
    ref = mesh_cls.elem.refdom.p
    mirrored = ref.copy()
    mirrored[[0, 1]] = ref[[1, 0]]
    return np.array([int(np.nonzero(np.all(np.isclose(ref.T, mirrored[:, i]), axis=1))[0][0])
                     for i in range(ref.shape[1])])


def _orient(p: NDArray, t: NDArray, mesh_cls: type[Mesh], cell_type: str,
            name: str) -> NDArray:
    """Reorient clockwise elements; raise on degenerate, tangled or non-convex ones."""
    det, rel = _corner_jacobians(p, t, mesh_cls)
    small = np.abs(rel) < DEGENERATE_RTOL
    if np.any(small):
        e, c = np.argwhere(small)[0]
        raise MeshError(
            f"{name}: element {e} ({cell_type}) is degenerate: Jacobian determinant "
            f"{det[e, c]:.3g} at local vertex {c} (relative {rel[e, c]:.2g}, "
            f"tolerance {DEGENERATE_RTOL:g})")
    negative = det < 0
    mixed = np.any(negative, axis=1) & ~np.all(negative, axis=1)
    if np.any(mixed):
        e = int(np.nonzero(mixed)[0][0])
        raise MeshError(
            f"{name}: element {e} ({cell_type}) is tangled or non-convex: Jacobian "
            f"determinant changes sign over the element (min {det[e].min():.3g}, "
            f"max {det[e].max():.3g})")
    flip = np.all(negative, axis=1)
    if np.any(flip):
        logger.info("%s: reoriented %d of %d clockwise %s elements",
                    name, int(flip.sum()), t.shape[1], cell_type)
        t = t.copy()
        t[:, flip] = t[:, flip][_flip_permutation(mesh_cls)]
    return t


def _lookup(mapping: Mapping | None, key: str, kind: str, path_for_errors) -> NDArray:
    if mapping and key in mapping:
        return np.asarray(mapping[key])
    where = f" in {Path(path_for_errors).name}" if path_for_errors is not None else ""
    known = ", ".join(sorted(mapping)) if mapping else "(none)"
    raise MeshError(f"unknown {kind} '{key}'{where}; known: {known}")


def boundary_facets(mesh: Mesh, name: str, path_for_errors: str | PathLike | None = None
                    ) -> NDArray[np.int32]:
    """Facet indices ``(n,)`` of the named boundary of ``mesh``.

    Raises :class:`MeshError` ``unknown boundary 'xyz' in mesh.msh; known: left, right``
    when the name does not exist; ``path_for_errors`` names the file in that message.
    """
    return _lookup(mesh.boundaries, name, "boundary", path_for_errors)


def subdomain_elements(mesh: Mesh, name: str, path_for_errors: str | PathLike | None = None
                       ) -> NDArray[np.int32]:
    """Element indices ``(n,)`` of the named subdomain of ``mesh``.

    Raises :class:`MeshError` naming the unknown subdomain and the known ones.
    """
    return _lookup(mesh.subdomains, name, "subdomain", path_for_errors)
