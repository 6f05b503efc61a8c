"""The history store's pure parts: the lossless amount types and where the database is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.base.errors import UsageError
from verifier.history.db_url import database_url, normalise_url
from verifier.history.store import Store
from verifier.history.tables import BaseUnits, DecimalText


@given(st.integers(min_value=0, max_value=2**256))
def test_base_units_round_trip_without_loss(value: int) -> None:
    column = BaseUnits()
    stored = column.process_bind_param(value, None)  # type: ignore[arg-type]
    assert stored == str(value)
    assert column.process_result_value(stored, None) == value  # type: ignore[arg-type]


def test_amount_types_refuse_floats() -> None:
    with pytest.raises(TypeError):
        BaseUnits().process_bind_param(1.5, None)  # type: ignore[arg-type]  # float-ok: rejected
    with pytest.raises(TypeError):
        DecimalText().process_bind_param(0.1, None)  # type: ignore[arg-type]  # float-ok: rejected
    text = DecimalText().process_bind_param(Decimal("6260226600.9482188"), None)  # type: ignore[arg-type]
    assert text == "6260226600.9482188"


def test_database_url_precedence(tmp_path: Path) -> None:
    config = tmp_path / "por.toml"
    env = {"POR_DATABASE_URL": "postgresql://u:secret@h/db"}
    assert database_url("x.db", env, "y.db", config) == f"sqlite:///{tmp_path / 'x.db'}"
    assert database_url(None, env, "y.db", config) == "postgresql+psycopg://u:secret@h/db"
    assert database_url(None, {}, "y.db", config) == f"sqlite:///{tmp_path / 'y.db'}"
    assert database_url(None, {}, None, config) == f"sqlite:///{tmp_path / 'por.db'}"
    with pytest.raises(UsageError):
        database_url(None, {}, None, None)
    assert "secret" not in Store(normalise_url("postgresql://u:secret@h/db", None)).describe()
