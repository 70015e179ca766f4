"""A preference baseline that sees only the posts: which post of a pair an employee chooses, from the posts'
attributes alone, the same for every employee.

A logistic model of P(choose a over b) = σ(w·(x_a − x_b)) on the training pairs, fitted by Newton's method with a
small ridge penalty (convex, a handful of attributes): its post score w·x is what "popular posts win" explains. A
model that knows the employee must beat it to show it uses who is choosing.
"""

from __future__ import annotations

import numpy as np


def fit_post_scores(posts: np.ndarray, pairs: np.ndarray, *, ridge: float = 1.0, steps: int = 25) -> np.ndarray:
    """(n_posts,) scores w·x of a logistic choice model on ``pairs`` (employee, chosen, rejected)."""
    posts = np.asarray(posts, dtype=float)
    difference = posts[pairs[:, 1]] - posts[pairs[:, 2]]  # every pair is a win of its first post
    design = np.vstack([difference, -difference])  # and a loss of the second: no intercept is needed
    target = np.r_[np.ones(len(difference)), np.zeros(len(difference))]
    w = np.zeros(posts.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ w))
        gradient = design.T @ (p - target) + ridge * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(posts.shape[1])
        w -= np.linalg.solve(hessian, gradient)
    return posts @ w
