"""por.toml as `por challenge --epoch` reads it: before the epoch it creates is in the file.

Where it sits: beside `load_config` (verifier/inputs/config.py), for the one command that
comes before a config is finished: the epoch challenge (verifier/holdings/challenge_plan.py)
is what creates the epoch, so wallets' proofs may name it already and
`[[ownership.epochs]]` entries may still hold `por init`'s placeholders
(verifier/inputs/placeholders.py). Everything else is checked as `load_config` checks it.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.config import semantic_problems, to_config
from verifier.inputs.config_errors import validate
from verifier.inputs.config_values import PorConfig
from verifier.inputs.placeholders import PLACEHOLDER, has_placeholder


def load_for_epoch(path: Path) -> tuple[PorConfig, list[str]]:
    """por.toml as `por challenge --epoch` reads it: the exchange, the nodes and the wallets.

    The epoch challenge is what creates the epoch, so the config may not be finished yet:
    wallets' proofs may name the epoch being created (or a placeholder), and
    `[[ownership.epochs]]` entries may still hold `por init`'s placeholders. Here those are
    set aside (each named in a note) instead of refused; everything else is checked as
    `load_config` checks it (the schema, duplicates, URLs), and an epoch entry that is filled
    in but wrong is still an error. `load_config` itself is unchanged: snapshot, reconcile
    and `config check` refuse such a file.
    """
    raw = safetoml.load_path(path, what="config file")
    relaxed = copy.deepcopy(raw)
    notes: list[str] = []
    stand_ins: set[str] = set()
    ownership = relaxed.get("ownership")
    found = ownership.get("epochs") if isinstance(ownership, dict) else None
    epochs: list[Any] = found if isinstance(found, list) else []
    for i, entry in enumerate(epochs):
        if has_placeholder(entry):
            # a valid stand-in keeps every later entry at its index (messages name it);
            # it is dropped again below, so no request can find it
            key = f"ownership.epochs[{i}]"
            stand_in = f"placeholder.ownership.epochs.{i}"  # an epoch id (EPOCH_ID)
            epochs[i] = {"id": stand_in, "bitcoin": {"height": 0, "hash": "0" * 64}}
            stand_ins.add(key)
            notes.append(
                f"{path}: {key} still holds placeholders and is set aside: replace it with "
                "the [[ownership.epochs]] table printed here"
            )
    model, problems = validate(path, relaxed)
    if problems:
        raise problems[0][0]
    assert model is not None
    if model.exchange.name.startswith(PLACEHOLDER):
        raise InputError(
            "placeholder not filled in: the challenge names your exchange, fill it in first",
            file=str(path),
            key="exchange.name",
            value=model.exchange.name,
        )
    config = to_config(path, model, raw)
    kept = tuple(e for e in config.ownership.epochs if e.key not in stand_ins)
    config = replace(config, ownership=replace(config.ownership, epochs=kept))
    # no epoch references: proofs may name the epoch this command is about to print
    for problem in semantic_problems(
        path,
        bitcoin=config.bitcoin,
        ethereum=config.ethereum,
        alerts=config.alerts,
        ownership=config.ownership,
        references=False,
    ):
        raise problem
    return config, notes
