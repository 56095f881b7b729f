"""A long JSON report is written in chunks as it is made (never held whole): the chunks join
to exactly the report's text, a file gets them atomically (all or nothing, even when making a
chunk fails), and stdout, devices and FIFOs get the same bytes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, Run

from sgaudit.fileio.files import atomic_write
from sgaudit.report import json_report, render_chunks
from tests.report.test_json_report import reference
from tests.report_samples import clean_report, edge_report, fixture_report


@pytest.mark.parametrize("lines", [1, 2, 2048])
def test_chunks_join_to_the_report_text(monkeypatch: pytest.MonkeyPatch, lines: int) -> None:
    monkeypatch.setattr(json_report, "CHUNK_LINES", lines)
    for report in (fixture_report(), edge_report(), clean_report()):
        chunks = list(json_report.render_chunks(report))
        assert "".join(chunks) == reference(report) == json_report.render(report)
        if lines == 1 and len(report.findings) > 1:
            assert len(chunks) >= len(report.findings) + len(report.results)


def test_a_format_without_chunks_gives_its_text_as_one() -> None:
    from sgaudit.report import renderer

    report = fixture_report()
    assert list(render_chunks("markdown", report)) == [renderer("markdown")(report)]


def test_chunks_are_written_whole_with_lone_surrogates_replaced(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write(target, iter(["first \ud800 ", "", "second\n"]), label="report")
    assert target.read_text(encoding="utf-8") == "first \ufffd second\n"


def test_a_chunk_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old report\n")

    def failing() -> Iterator[str]:
        yield "half of a new report"
        raise RuntimeError("rendering failed")

    with pytest.raises(RuntimeError, match="rendering failed"):
        atomic_write(target, failing(), label="report")
    assert target.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_chunks_to_stdout_and_to_a_fifo_are_the_same_bytes(tmp_path: Path,
                                                          capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    atomic_write("-", iter(["a", "b\n"]))
    assert capfdbinary.readouterr().out == b"ab\n"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    read_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer's open returns
    try:
        atomic_write(fifo, iter(["c", "d\n"]))
        assert os.read(read_fd, 100) == b"cd\n"
    finally:
        os.close(read_fd)


def test_check_writes_the_same_report_to_a_file_as_to_stdout(sgaudit: Callable[..., Run],
                                                              tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-01-02T03:04:05Z")
    args = ["check", "--policy", FIXTURES / "policy.yaml", "--snapshot", FIXTURES / "security-groups.json",
            "--snapshot", FIXTURES / "vpcs.json", "-q"]
    out = tmp_path / "report.json"
    sgaudit(*args, "-o", out)
    printed = sgaudit(*args, "--format", "json")
    assert out.read_text() == printed.out
    assert json.loads(printed.out)["findings"]
