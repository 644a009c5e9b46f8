"""The macro's parameters (``app/views/macro_params.py``): defaults, refusals, and the kept answers."""

from __future__ import annotations

import pytest

from app.errors import BadRequestError
from app.reports.model import ReportScope
from app.reports.settings import ReportSettings
from app.views.macro_params import MacroParams

SETTINGS = ReportSettings(stale_days=90, rows_per_page=10)


def test_fields_fall_back_to_the_pages_space_and_the_admins_defaults() -> None:
    params = MacroParams.parse({"spaceKey": "DOCS", "space": "", "rows": " "}, SETTINGS)
    assert params == MacroParams(ReportScope("DOCS", "pages", None, 90), 10)
    chosen = {"space": "ENG", "spaceKey": "DOCS", "root": "42", "contentType": "blogposts", "staleDays": "30"}
    assert MacroParams.parse({**chosen, "rows": "25"}, SETTINGS) == MacroParams(
        ReportScope("ENG", "blogposts", "42", 30), 25
    )


def test_kept_answers_follow_the_settings() -> None:
    args = {"spaceKey": "DOCS"}
    assert MacroParams.parse(args, SETTINGS).rows == 10
    assert MacroParams.parse(args, ReportSettings(stale_days=7, rows_per_page=5)) == MacroParams(
        ReportScope("DOCS", "pages", None, 7), 5
    )
    assert MacroParams.parse(args, SETTINGS).rows == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "no space to report on"),
        ({"spaceKey": "NOT A KEY"}, "not a valid space key"),
        ({"spaceKey": "DOCS", "root": "12a"}, "Root page id"),
        ({"spaceKey": "DOCS", "contentType": "comments"}, "pages or blog posts"),
        ({"spaceKey": "DOCS", "staleDays": "0"}, "Stale after (days)"),
        ({"spaceKey": "DOCS", "rows": "-3"}, "Rows to show"),
        ({"spaceKey": "D" * 500}, "not a valid space key"),  # too long to be kept: parsed each time
    ],
)
def test_each_refusal_is_given_every_time(args: dict[str, str], message: str) -> None:
    for _ in range(2):  # refusals are never kept
        with pytest.raises(BadRequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
            MacroParams.parse(args, SETTINGS)
