"""Baseline features from the employee graph: the group memberships the GNN sees as nodes, as 0/1 columns.

A baseline with these columns sees the same information as the GNN, so the GNN against it measures what
message passing adds, not what the groups add.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from expbook.data.turnover import EmployeeGraph


def group_features(graph: EmployeeGraph) -> pd.DataFrame:
    """The GNN's group nodes as baseline features: one 0/1 column per group level (multi-hot for post types)."""
    columns = {}
    for group, (employee, index, size) in graph.groups.items():
        hot = np.zeros((graph.n, size))
        hot[employee, index] = 1.0
        columns.update({f"{group}={level}": hot[:, level] for level in range(size)})
    return pd.DataFrame(columns)
