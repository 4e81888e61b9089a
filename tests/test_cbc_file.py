"""The MPS text CBC reads (allocator.allocate.cbc.CbcFile), checked line by line on a tiny model."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from allocator.allocate.cbc import CbcFile


def _file() -> CbcFile:
    # rows: R0 x0 + 2 x1 == 3;  R1 x1 >= 0.1;  R2 x0 + x3 <= 5  (column C2 has no entries)
    a = sp.csr_matrix(np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]]))
    inf = np.inf
    return CbcFile(a, np.array([3.0, 0.1, -inf]), np.array([3.0, inf, 5.0]),
                   np.array([0.0, 0.0, 2.5, -inf]), np.array([inf, 1.0, 2.5, inf]), "cbc", [])


def test_mps_text_of_each_stage_exactly() -> None:
    f = _file()
    assert f._mps(np.array([1.0, 0.0, 0.0, 0.3])) == "\n".join([
        "NAME allocation", "ROWS", " N OBJ", " E R0", " G R1", " L R2", "COLUMNS",
        "    C0 OBJ 1.0", "    C0 R0 1.0", "    C0 R2 1.0",
        "    C1 R0 2.0", "    C1 R1 1.0",
        "    C3 OBJ 0.3", "    C3 R2 1.0",
        "RHS", "    RHS R0 3.0", "    RHS R1 0.1", "    RHS R2 5.0",
        "BOUNDS", " LO BND C0 0.0", " LO BND C1 0.0", " UP BND C1 1.0", " FX BND C2 2.5",
        " FR BND C3", "ENDATA", ""])
    # the next stage holds the first objective: a hold row after the matrix entries of each column
    f.hold(np.array([1.0, 0.0, 0.0, 0.3]), 0.75)
    text = f._mps(np.array([0.0, 1.0, 0.1, 0.0]))
    assert text.split("COLUMNS\n")[1].split("\nRHS\n")[0].splitlines() == [
        "    C0 R0 1.0", "    C0 R2 1.0", "    C0 H0 1.0",
        "    C1 OBJ 1.0", "    C1 R0 2.0", "    C1 R1 1.0",
        "    C2 OBJ 0.1",
        "    C3 R2 1.0", "    C3 H0 0.3"]
    assert " L H0" in text.split("COLUMNS")[0].splitlines()
    assert "    RHS H0 0.75" in text.splitlines()


def test_numbers_are_written_to_round_trip() -> None:
    f = _file()
    x = 0.1 + 0.2  # 0.30000000000000004: the shortest text that reads back as the same double
    line = next(s for s in f._mps(np.array([x, 0.0, 0.0, 0.0])).splitlines() if " OBJ " in s)
    assert float(line.split()[-1]) == x
