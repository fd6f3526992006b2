"""The chat grammar: lines as typed in chat into commands, and bad lines into one usage line."""

from __future__ import annotations

import pytest

from agentscaler.services.policy.chat import USAGE, ChatLine, ChatUsage, parse
from agentscaler.shared.messages.commands import ListPools, Scale, SetMode
from agentscaler.shared.render_text import LIMIT, fit


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        ("up 5 --pool x", ChatLine("up", "x", 5), "scale"),
        ("  DOWN 0 --pool=x ", ChatLine("down", "x", 0), "scale"),
        ("up 3", ChatLine("up", None, 3), "scale"),
        ("down -p x 2", ChatLine("down", "x", 2), "scale"),
        ("status", ChatLine("status"), "get_pool"),
        ("status --pool x", ChatLine("status", "x"), "get_pool"),
        ("auto --pool x", ChatLine("auto", "x"), "set_mode"),
        ("manual --pool 'x'", ChatLine("manual", "x"), "set_mode"),
        ("pools", ChatLine("pools"), "list_pools"),
        ("help", ChatLine("help"), None),
    ],
)
def test_valid_lines(text: str, line: ChatLine, kind: str | None) -> None:
    assert parse(text) == line
    assert parse(text).kind == kind


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty command"),
        ("scale 5", "unknown command 'scale'"),
        ("up", "up takes one count"),
        ("up 5 6", "up takes one count"),
        ("up five", "count 'five' must be a whole number"),
        ("down -5", "count '-5' must be a whole number"),
        ("up 2000000", "must be a whole number 0-1000000"),
        ("up 5 --pool", "--pool needs a pool name"),
        ("up 5 --pool a --pool b", "--pool given twice"),
        ("status --verbose", "unknown option '--verbose'"),
        ("status now", "status takes no argument 'now'"),
        ("pools --pool x", "pools takes no --pool"),
        ("up 'unclosed", "cannot read the line"),
    ],
)
def test_bad_lines_say_what_and_the_usage_in_one_line(text: str, words: str) -> None:
    with pytest.raises(ChatUsage) as err:
        parse(text)
    message = str(err.value)
    assert words in message and message.endswith(USAGE) and "\n" not in message


def test_lines_become_the_policy_commands() -> None:
    assert parse("up 5 --pool x").command() == Scale(pool="x", direction="up", count=5)
    assert parse("manual").command() == SetMode(pool="default", mode="manual")
    assert parse("pools").command() == ListPools()
    assert parse("status --pool x").command() is None and parse("help").command() is None


def test_long_replies_are_cut_at_a_line_end() -> None:
    text = "\n".join(f"pool-{i}: manual, 0/0 agents" for i in range(500))
    cut = fit(text)
    assert len(cut) <= LIMIT and cut.endswith("more characters cut)") and "\npool-" in cut
    assert fit("short") == "short"
