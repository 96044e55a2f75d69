"""Command-line commands tell an operator what failed in one line, not a traceback (`indexer.elastic.run_command`)."""

from __future__ import annotations

import pytest
from elastic_transport import ConnectionError, ConnectionTimeout

from indexer.elastic import run_command


@pytest.mark.parametrize("failure", [ConnectionError("Connection refused"), ConnectionTimeout("timed out after 30 s")])
def test_elasticsearch_not_answering_is_one_line_and_exit_1(failure: Exception, capsys: pytest.CaptureFixture) -> None:
    def command() -> int:
        raise failure

    assert run_command(command, "http://127.0.0.1:9299") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "http://127.0.0.1:9299 did not answer" in err and type(failure).__name__ in err


def test_ctrl_c_is_exit_130_and_other_errors_are_not_hidden(capsys: pytest.CaptureFixture) -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    assert run_command(interrupted, "http://x") == 130
    assert capsys.readouterr().err == "interrupted\n"

    def broken() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):  # a bug keeps its traceback
        run_command(broken, "http://x")
    assert run_command(lambda: 2, "http://x") == 2


def test_an_invalid_setting_stops_a_command_with_one_line_each_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture) -> None:
    from govsearch.settings import get_settings, settings_or_exit

    monkeypatch.setenv("SUGGEST_MIN_SEARCHES", "1")
    monkeypatch.setenv("CORS_ORIGINS", "not-an-origin")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as stopped:
            settings_or_exit()
    finally:
        get_settings.cache_clear()
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["error: SUGGEST_MIN_SEARCHES: Input should be greater than or equal to 2",
                     "error: CORS_ORIGINS: Value error, origin 'not-an-origin' must look like https://host[:port]"]


def test_a_text_log_line_cannot_be_split_by_what_a_caller_sent() -> None:
    import logging
    import sys

    from service.observability import TEXT_FORMAT, TextFormatter

    formatter = TextFormatter(TEXT_FORMAT)
    record = logging.LogRecord("service.audit", logging.WARNING, __file__, 1, "admin call refused what=%s %s",
                               ("GET", "/admin/x\nFAKE INFO service.audit admin call outcome=200"), None)
    record.request_id = "-"
    line = formatter.format(record)
    assert "\n" not in line and line.endswith("what=GET /admin/x\\x0aFAKE INFO service.audit admin call outcome=200")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("service", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    failed.request_id = "-"
    assert "\nTraceback" in formatter.format(failed)  # a traceback keeps its own lines
