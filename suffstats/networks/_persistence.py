"""What a Bayesian network and a Markov chain write to JSON and how it is read back, every field checked.

A description holds the settings and, once fitted, the tables (nested lists of
numbers). Reading one checks the structure (no cycle, parents that exist), the
declared sizes before anything is allocated, each table's shape, and that each
conditional distribution is non-negative and sums to one.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int, json_numbers
from ..distributions._registry import SCHEMA_VERSION
from ._codes import check_table_size
from ._structure import check_structure

__all__ = ["network_to_dict", "network_from_dict", "chain_to_dict", "chain_from_dict"]


def network_to_dict(model) -> dict:
    """JSON-safe description: settings, the fitted structure, categories and tables."""
    fitted = getattr(model, "cpts_", None) is not None
    return {
        "schema": SCHEMA_VERSION, "family": "BayesianNetwork",
        "structure": None if model.structure is None else [list(p) for p in check_structure(model.structure)],
        "algorithm": model.algorithm,
        "n_categories": None if model.n_categories is None else (
            model.n_categories if isinstance(model.n_categories, (int, np.integer))
            else [int(c) for c in model.n_categories]),
        "prior": model.prior, "equivalent_sample_size": float(model.equivalent_sample_size),
        "pseudocount": float(model.pseudocount), "root": int(model.root),
        "fitted": None if not fitted else {
            "structure_": [list(p) for p in model.structure_],
            "n_categories_": list(model.n_categories_),
            "cpts_": [t.tolist() for t in model.cpts_],
        },
    }


def network_from_dict(cls, data):
    """A network rebuilt from :func:`network_to_dict` output; a ``ValueError`` names the field at fault."""
    structure = data.get("structure")
    model = cls(None if structure is None else tuple(tuple(p) for p in structure), data.get("algorithm"),
                n_categories=data.get("n_categories"), prior=data.get("prior"),
                equivalent_sample_size=data.get("equivalent_sample_size", 5.0),
                pseudocount=data.get("pseudocount", 0.0), root=data.get("root", 0))
    fitted = data.get("fitted")
    if fitted is None:
        return model
    if not isinstance(fitted, dict):
        raise ValueError("'fitted' must be an object with structure_, n_categories_ and cpts_")
    learned = check_structure(tuple(tuple(p) for p in fitted["structure_"]), name="fitted.structure_")
    cards = tuple(check_positive_int(c, f"fitted.n_categories_[{j}]")
                  for j, c in enumerate(fitted["n_categories_"]))
    tables = fitted["cpts_"]
    if len(cards) != len(learned) or not isinstance(tables, list) or len(tables) != len(learned):
        raise ValueError("fitted.structure_, fitted.n_categories_ and fitted.cpts_ must list the same columns")
    cpts = []
    for i, parents in enumerate(learned):
        shape = tuple(cards[p] for p in parents) + (cards[i],)
        check_table_size(shape, f"fitted.cpts_[{i}]")
        table = json_numbers(tables[i], f"fitted.cpts_[{i}]")
        if table.shape != shape:
            raise ValueError(f"fitted.cpts_[{i}] has shape {table.shape}; its structure needs {shape}")
        if (table < 0).any() or not np.allclose(table.sum(axis=-1), 1.0, atol=1e-9):
            raise ValueError(f"fitted.cpts_[{i}] must hold non-negative rows summing to 1 along its last axis")
        cpts.append(table)
    model.structure_, model.n_categories_, model.cpts_ = learned, cards, cpts
    return model


def chain_to_dict(model) -> dict:
    """JSON-safe description: order, settings and fitted tables."""
    fitted = getattr(model, "transition_probs_", None) is not None
    return {"schema": SCHEMA_VERSION, "family": "MarkovChain", "k": model.k, "n_categories": model.n_categories,
            "pseudocount": float(model.pseudocount),
            "fitted": None if not fitted else {"n_categories_": model.n_categories_,
                                                **model._fit_parameters()}}


def chain_from_dict(cls, data):
    """A chain rebuilt from :func:`chain_to_dict` output; a ``ValueError`` names the field at fault."""
    model = cls(data.get("k", 1), n_categories=data.get("n_categories"),
                pseudocount=data.get("pseudocount", 0.0))
    fitted = data.get("fitted")
    if fitted is None:
        return model
    if not isinstance(fitted, dict):
        raise ValueError("'fitted' must be an object with n_categories_, initial_probs and transition_probs")
    c = check_positive_int(fitted["n_categories_"], "fitted.n_categories_")
    check_table_size((c,) * (model.k + 1), "fitted.transition_probs")
    initial = fitted["initial_probs"]
    if not isinstance(initial, list) or len(initial) != model.k:
        raise ValueError(f"fitted.initial_probs must list {model.k} tables")
    tables = [json_numbers(t, f"fitted.initial_probs[{p}]") for p, t in enumerate(initial)]
    tables.append(json_numbers(fitted["transition_probs"], "fitted.transition_probs"))
    for p, table in enumerate(tables):
        name = f"fitted.initial_probs[{p}]" if p < model.k else "fitted.transition_probs"
        if table is None or table.shape != (c,) * (p + 1):
            raise ValueError(f"{name} must have shape {(c,) * (p + 1)}")
        if (table < 0).any() or not np.allclose(table.sum(axis=-1), 1.0, atol=1e-9):
            raise ValueError(f"{name} must hold non-negative rows summing to 1 along its last axis")
    model.n_categories_, model.initial_probs_, model.transition_probs_ = c, tables[:-1], tables[-1]
    return model
