"""The audit reports: text, JSON (documented stable schema) and the self-contained HTML page
(rendered in headless Chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from audit_support import ElectionLog, build_election, flip
from electlog.audit import Report, audit
from electlog.audit._report_html import render_html
from electlog.audit._report_json import (
    CHECKPOINT_FIELDS,
    COUNTS_FIELDS,
    FINDING_FIELDS,
    OPTIONAL_RUN_FIELDS,
    REPORT_FIELDS,
    RUN_FIELDS,
    render_json,
    validate_report_dict,
)
from electlog.audit._report_text import render_text

DOCS = Path(__file__).resolve().parents[2] / "docs" / "auditing.md"


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(scope="module")
def clean(el: ElectionLog) -> Report:
    return audit(el.source(), el.trust, since=el.notes[0])


@pytest.fixture(scope="module")
def dirty(el: ElectionLog) -> Report:
    entries = list(el.entries)
    entries[150] = flip(entries[150], 60)
    return audit(el.source(entries), el.trust)


def test_json_report_follows_the_schema(clean: Report, dirty: Report) -> None:
    for report in (clean, dirty):
        data = json.loads(render_json(report))
        validate_report_dict(data)
        assert data["verdict"] == report.verdict
        assert len(data["findings"]) == len(report.findings)
    data = json.loads(render_json(dirty))
    assert data["findings"][0]["code"] == "entry.signature_invalid"
    assert data["findings"][0]["index"] == 150
    assert data["counts"]["findings"]["error"] >= 1


def test_schema_validation_rejects_deviations(clean: Report) -> None:
    data = json.loads(render_json(clean))
    bad = dict(data)
    bad["extra"] = 1
    with pytest.raises(ValueError, match="top-level fields"):
        validate_report_dict(bad)
    bad = json.loads(render_json(clean))
    bad["verdict"] = "findings"
    with pytest.raises(ValueError, match="verdict does not match"):
        validate_report_dict(bad)
    bad = json.loads(render_json(clean))
    bad["findings"] = [
        {"code": "x", "severity": "fatal", "index": None, "message": "", "evidence": {}}
    ]
    with pytest.raises(ValueError, match="severity"):
        validate_report_dict(bad)


def _documented_fields(section: str) -> list[str]:
    """The field names listed in the table under ``section`` of docs/auditing.md."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(section)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        m = re.match(r"\|\s*`([a-z_.]+)`\s*\|", line)
        if m:
            rows.append(m.group(1))
    return rows


def test_documented_schema_matches(clean: Report) -> None:
    assert _documented_fields("### Top-level fields") == list(REPORT_FIELDS)
    assert _documented_fields("### `counts`") == list(COUNTS_FIELDS)
    assert _documented_fields("### `checkpoint`") == list(CHECKPOINT_FIELDS)
    assert _documented_fields("### `findings[]`") == list(FINDING_FIELDS)
    assert _documented_fields("### `run`") == list(RUN_FIELDS + OPTIONAL_RUN_FIELDS)
    assert list(clean.to_dict()) == list(REPORT_FIELDS)


def test_text_report(clean: Report, dirty: Report) -> None:
    text = render_text(clean)
    assert text.startswith("VERDICT: CLEAN\n")
    assert "since        size 80: consistent with this log" in text
    assert "director (1 seat(s)): elected c1-v00 (23)" in text
    text = render_text(dirty)
    assert text.startswith("VERDICT: FINDINGS (")
    assert "ERROR   entry 150    entry.signature_invalid:" in text


def test_html_is_self_contained(clean: Report, dirty: Report) -> None:
    for report in (clean, dirty):
        page = render_html(report)
        assert page.startswith("<!DOCTYPE html>")
        assert "<script" not in page.lower()
        assert not re.search(r"\b(src|href)\s*=", page)
        assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
        assert "default-src 'none'" in page
    assert 'id="verdict">Verdict: CLEAN</h1>' in render_html(clean)
    dirty_page = render_html(dirty)
    assert 'class="verdict findings"' in dirty_page
    assert "entry.signature_invalid" in dirty_page
    assert dirty_page.index('id="verdict"') < dirty_page.index('id="findings"')
    assert render_html(clean).count("<svg") >= 1 + 5  # turnout + one chart per post


def test_html_escapes_untrusted_text(el: ElectionLog) -> None:
    from electlog.audit import Finding, Severity
    from electlog.audit.report import Counts

    report = Report(
        verdict="findings",
        origin="<b>x</b>",
        source="<script>alert(1)</script>",
        counts=Counts(
            entries=0,
            authors=0,
            checkpoints=0,
            checkpoints_verified=0,
            findings={"error": 1, "warning": 0, "info": 0},
            events={},
        ),
        tallies={},
        findings=(
            Finding(
                code="c",
                severity=Severity.ERROR,
                index=None,
                message="<img src=x>",
                evidence={"k": "</pre>"},
            ),
        ),
    )
    page = render_html(report)
    assert "<script>alert" not in page and "<img src=x>" not in page
    assert "&lt;img src=x&gt;" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.mark.browser
def test_html_renders_in_headless_chromium(clean: Report, dirty: Report, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip(
            "headless chromium not found; install it with `apt-get install chromium` "
            "(Debian/Ubuntu) to run this test"
        )
    for name, report, verdict in (("clean", clean, "CLEAN"), ("dirty", dirty, "FINDINGS")):
        page = tmp_path / f"{name}.html"
        page.write_text(render_html(report), encoding="utf-8")
        flags = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / ('profile-' + name)}",
            "--enable-logging=stderr",
            "--v=0",
        ]
        dom = subprocess.run(
            [*flags, "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert f"Verdict: {verdict}" in dom.stdout
        assert 'id="findings"' in dom.stdout
        console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], console  # no CSP violation, no script error, nothing fetched
        shot = tmp_path / f"{name}.png"
        result = subprocess.run(
            [*flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert shot.stat().st_size > 10_000
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
