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
