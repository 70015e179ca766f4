"""GNN v6 report: turnover and post preference against same-information baselines, by repeated k-fold CV.

Every employee is tested once per repeat of a stratified k-fold split; each training fold gives up a
stratified validation part for early stopping and thresholds. Every model of a fold sees the same three
parts, so models are compared *paired by fold*, with the corrected resampled t-test (the folds share
training data) and Holm's correction across the report's family of verdicts.

The baselines come twice: on the employee features only, and with the group memberships the GNN sees
as nodes (multi-hot post types, company size and type; on IBM department, job role and education field).
The first pair against the second measures what the extra information adds; the GNN against the second
measures what message passing adds on top.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from expbook.claims import decide, test
from expbook.data.turnover import EmployeeGraph
from expbook.experiments.turnover_pipeline import (
    ABLATIONS,
    CHANCE,
    FEATURES_ONLY,
    METRIC_NAMES,
    POSTS_ONLY,
    WITH_GROUPS,
    cross_validate,
)
from expbook.metrics.estimates import CorrectedTEstimate, TEstimate
from expbook.models.gnn import GNNConfig
from expbook.verdicts import CONTROL, FAMILY, INCONCLUSIVE, Verdict, join_names, say


def summary_table(results: pd.DataFrame, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Per model: ``metric`` as "mean ± 95% t-interval half-width" over the splits (model order as first seen).

    The half-width is the naive one (splits treated as independent); the paired comparisons use the
    corrected variance.
    """
    order = list(dict.fromkeys(results["model"]))
    table = {}
    for model in order:
        part = results[results["model"] == model]
        table[model] = {m: TEstimate.of(part[m], "splits", bounds=None if m == "pref_margin" else (0.0, 1.0)).text()
                        if m in part and part[m].notna().any() else "—" for m in metrics}  # shares stay in [0, 1]
    table = pd.DataFrame.from_dict(table, orient="index")
    table["test evaluations"] = results.groupby("model", sort=False).size()
    return table


@dataclass(frozen=True)
class Comparison:
    """A verdict of the report: ``a − b`` on ``metric`` of dataset ``data`` (``b`` = CHANCE: 0.5)."""

    id: str
    data: str
    a: str
    b: str
    metric: str
    question: str
    role: str = FAMILY


def survey_family(data: str = "survey") -> list[Comparison]:
    out = [Comparison(f"V{i}", data, "GNN v6", b, "aupr", f"Does GNN v6 beat {b} on test AUPR?")
           for i, b in enumerate((*WITH_GROUPS, "GNN v5"), start=1)]
    out += [Comparison(f"G{i}", data, a, b, "aupr", f"Do the group features help {b} (test AUPR)?")
            for i, (a, b) in enumerate(zip(WITH_GROUPS, FEATURES_ONLY, strict=True), start=1)]
    out += [Comparison("P1", data, "GNN v6", CHANCE, "pref_acc",
                       "Does GNN v6 rank the chosen post above the rejected one better than chance?"),
            Comparison("P2", data, "GNN v6", POSTS_ONLY, "pref_acc",
                       "Does GNN v6 rank the chosen post better than a model of the posts' attributes alone?"),
            Comparison("P3", data, "GNN v6", "GNN v5", "pref_acc", "Does GNN v6 beat GNN v5 on preference?")]
    out += [Comparison(f"A{i}", data, "GNN v6", name, metric,
                       f"Does the {name.removeprefix('v6 without ')} component help ({METRIC_NAMES[metric]})?")
            for i, (name, (_, metric)) in enumerate(ABLATIONS.items(), start=1)]
    return out


def ibm_family(data: str = "ibm_attrition") -> list[Comparison]:
    return [Comparison(f"I{i}", data, "GNN v6", b, "aupr", f"IBM attrition: does the GNN beat {b} on test AUPR?")
            for i, b in enumerate(WITH_GROUPS, start=1)]


CONTROL_MODELS = ("MLP", "MLP + groups", "GNN v6")
CONTROL_DATA = "survey, strong graph signal"


def control_family(data: str = CONTROL_DATA) -> list[Comparison]:
    """The positive control: on a survey generated with a strong graph signal, the effects the family looks for —
    GNN v6 against the MLP that gets the same group memberships as features (the same information: what is left is
    message passing), and the group features' own gain for the MLP."""
    return [Comparison("PC1", data, "GNN v6", "MLP + groups", "aupr", "Positive control (strong planted graph "
                       "signal): does GNN v6 beat the MLP with the same group features on test AUPR?", CONTROL),
            Comparison("PC2", data, "MLP + groups", "MLP", "aupr", "Positive control (strong planted graph signal): do "
                       "the group features help the MLP?", CONTROL)]


def estimates(results: pd.DataFrame, family: list[Comparison]) -> dict[str, CorrectedTEstimate]:
    """Each comparison paired by split, with the corrected resampled t variance (the splits share training rows);
    comparisons whose models did not run are left out."""
    out = {}
    for c in family:
        part = results[results["data"] == c.data]
        wide = part.pivot(index="split", columns="model", values=c.metric)
        if c.a not in wide or (c.b != CHANCE and c.b not in wide):
            continue
        b = 0.5 if c.b == CHANCE else wide[c.b]
        rows = int(part.groupby("split")[["n_test", "n_train"]].first().sum(axis=1).iloc[0])
        out[c.id] = CorrectedTEstimate.of(wide[c.a] - b, ratio=float((part["n_test"] / part["n_train"]).mean()),
                                          rows=rows, population=rows)  # the survey (or table) has no more rows
    return out


def verdicts(results: pd.DataFrame, family: list[Comparison], *, alpha: float) -> list[Verdict]:
    """One verdict per comparison that ran: ``a − b > 0``; the members of role ``FAMILY`` decided together (Holm),
    the positive control on its own."""
    found = estimates(results, family)
    return decide([test(c.id, c.question, found[c.id], ">", 0.0, fmt="{:+.3f}", role=c.role,
                        label=f"mean Δ {METRIC_NAMES[c.metric]}" + (" − 0.5" if c.b == CHANCE else ""),
                        evidence=f"{c.a} − {c.b} over {found[c.id].splits} splits")
                   for c in family if c.id in found], alpha=alpha)


def comparison_table(checks: list[Verdict]) -> pd.DataFrame:
    """The verdicts as a table: mean Δ, the interval that decided it, p of the corrected t-test and Holm's p."""
    return pd.DataFrame({"": [v.id for v in checks], "comparison": [v.evidence.split(" over ")[0] for v in checks],
                         "mean Δ": [v.value for v in checks],
                         "interval": [f"[{v.ci[0]:+.3f}, {v.ci[1]:+.3f}] ({v.interval_note.split(' interval')[0]})"
                                      if v.ci else "—" for v in checks],
                         "p": [v.p for v in checks], "p (Holm)": [v.p_adjusted for v in checks],
                         "verdict": [v.state for v in checks]})


def positive_control(graph: EmployeeGraph, *, base: GNNConfig, folds: int, repeats: int, val_fraction: float,
                     cv_seed: int, workers: int) -> pd.DataFrame:
    """The control's results: the features-only and the groups MLP and GNN v6 on the strong-signal survey."""
    return cross_validate(replace(graph, name=CONTROL_DATA), None, base=base, folds=folds, repeats=repeats,
                          val_fraction=val_fraction, cv_seed=cv_seed, workers=workers, models=CONTROL_MODELS)[0]


def headline(results: pd.DataFrame, checks: list[Verdict]) -> str:
    """One paragraph whose clauses follow the verdicts' states, with the fold means for scale."""
    survey = results[results["data"] == results["data"].iloc[0]]
    means = survey.groupby("model", sort=False)["aupr"].mean()
    best = str(means.idxmax())
    v = {check.id: check for check in checks}
    names = dict(zip(["V1", "V2", "V3"], [*WITH_GROUPS, "GNN v5"], strict=True))
    beaten = [names[i] for i in names if i in v and v[i].holds]
    worse = [names[i] for i in names if i in v and v[i].verdict is False]
    sentence = (f"Highest mean test AUPR: **{best}** ({means[best]:.3f}; fold means, a point estimate, not tested). "
                f"Against the baselines that see the same group memberships and GNN v5, GNN v6 ({means['GNN v6']:.3f}) "
                f"{'beats ' + join_names(beaten) if beaten else 'beats none of them'}"
                f"{' and is worse than ' + join_names(worse) if worse else ''} after Holm's correction.")
    helped = [b for i, b in (("G1", "MLP"), ("G2", "LightGBM")) if i in v and v[i].holds]
    sentence += (f" The group features significantly help {join_names(helped)}." if helped
                 else " The group features do not significantly help the baselines.")
    if "P1" in v:
        sentence += " Pairwise preference accuracy is " + say(
            v["P1"], holds="above chance", fails="below chance", inconclusive="not distinguishable from chance") + (
            ", " + say(v["P2"], holds="and above the posts-only model", fails="but below the posts-only model",
                       inconclusive="and not distinguishable from the posts-only model") if "P2" in v else "") + "."
        components = {f"A{i}": name.removeprefix("v6 without ") for i, name in enumerate(ABLATIONS, start=1)}
        found = [f"{components[i]} {'helps' if v[i].holds else 'hurts'}" for i in components
                 if i in v and v[i].verdict is not None]
        sentence += (" Significant component effects: " + "; ".join(found) + "." if found
                     else " No v6 component has a significant effect on the metric it targets.")
    ibm = [check for check in checks if check.id.startswith("I")]
    if ibm:
        open_ = sum(c.state == INCONCLUSIVE for c in ibm)
        sentence += (f" On IBM attrition the GNN significantly beats {sum(c.holds for c in ibm)} of {len(ibm)} "
                     f"same-information baselines" + (f" ({open_} inconclusive)." if open_ else "."))
    if "PC1" in v:
        sentence += " At a strong planted graph signal, GNN v6 " + say(
            v["PC1"], holds="beats the MLP with the same group features (message passing adds what the pipeline can "
                            "detect)",
            fails="is worse than the MLP with the same group features",
            inconclusive="cannot be told from the MLP with the same group features") + (
            ", and the group features " + say(v["PC2"], holds="help the MLP", fails="hurt the MLP",
                                              inconclusive="do not measurably help the MLP") if "PC2" in v else "") + "."
    return sentence
