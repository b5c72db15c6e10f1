"""Issue 15 item 14: the HTML report's charts (write-ins with few votes grouped, listed
candidates told apart from write-ins, community names on the turnout chart) and its layout at
1280 and 390 pixels wide in headless Chromium (nothing overflows)."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from audit_support import ElectionLog, build_election, flip
from cdp_support import Browser, chromium
from electlog.audit import Report, audit
from electlog.audit._report_html import render_html


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(scope="module")
def clean(el: ElectionLog) -> Report:
    return audit(el.source(), el.trust)


def _with_write_ins(report: Report, count: int, votes: int = 1) -> Report:
    """``report`` with ``count`` write-in persons of ``votes`` votes each added to c1's
    director post (a 1-seat post) and a long community name."""
    tallies: dict[str, Any] = copy.deepcopy(report.tallies)
    tallies["c1"]["name"] = "Community One of the Riverside Sub-district, North Bank"
    tallies["c2"]["name"] = "东城区和平里街道第二社区居民委员会选举委员会"  # wide characters
    post = tallies["c1"]["rounds"]["1"]["result"]["posts"]["director"]
    for i in range(count):
        post["counts"][f"c1-w{i:03d}"] = votes
    return attrs.evolve(report, tallies=tallies)


def _director_svg(page: str) -> str:
    start = page.index("director — 1 seat(s)")
    return page[start : page.index("</svg>", start)]


def test_write_ins_with_few_votes_are_one_bar(clean: Report) -> None:
    page = render_html(_with_write_ins(clean, 22))
    svg = _director_svg(page)
    assert "others: 22 names, 22 votes" in svg
    assert svg.count("<rect") == 2 + 1  # the two listed candidates and one "others" bar
    # without write-ins nothing is grouped
    assert "others:" not in _director_svg(render_html(clean))


def test_write_ins_with_enough_votes_keep_their_bar(clean: Report) -> None:
    returned = clean.tallies["c1"]["rounds"]["1"]["result"]["returned"]
    report = _with_write_ins(clean, 3, votes=max(2, returned // 10))
    svg = _director_svg(render_html(report))
    assert "others:" not in svg
    for i in range(3):
        assert f">c1-w{i:03d}</text>" in svg
    # a single small write-in is shown as itself, never as "others: 1 name"
    svg = _director_svg(render_html(_with_write_ins(clean, 1)))
    assert ">c1-w000</text>" in svg and "others" not in svg


def test_listed_candidates_look_different_from_write_ins(clean: Report) -> None:
    returned = clean.tallies["c1"]["rounds"]["1"]["result"]["returned"]
    svg = _director_svg(render_html(_with_write_ins(clean, 2, votes=max(2, returned // 10))))
    listed = set(clean.tallies["c1"]["rounds"]["1"]["result"]["posts"]["director"]["against"])
    for person in listed:
        assert re.search(rf'<text [^>]*text-anchor="end">{person}</text>', svg)
        assert f'class="writein">{person}<' not in svg
    for person in ("c1-w000", "c1-w001"):
        assert f'text-anchor="end" class="writein">{person}</text>' in svg
        assert re.search(rf"{person}: \d+ · write-in</title>", svg)
    legend = render_html(clean)
    assert "listed candidate" in legend and "<em>write-in</em>" in legend


def test_turnout_chart_shows_community_names(clean: Report) -> None:
    page = render_html(clean)
    turnout = page[page.index('id="turnout"') : page.index('id="results"')]
    for cid, c in clean.tallies.items():
        assert f">{cid} {c['name']}</text>" in turnout
    # a name too long for the label column ends in "…"; the tooltip has it whole
    page = render_html(_with_write_ins(clean, 0))
    turnout = page[page.index('id="turnout"') : page.index('id="results"')]
    assert "<title>c1 Community One of the Riverside Sub-district, North Bank: " in turnout
    assert re.search(r">c1 Community One of the Riverside[^<]*…</text>", turnout)


_LAYOUT = """JSON.stringify((() => {
  const w = window.innerWidth, out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5)) {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " + Math.round(r.left)
        + ".." + Math.round(r.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: w, outside: out.slice(0, 10)};
})())"""


@pytest.mark.browser
def test_html_fits_1280_and_390_pixels(clean: Report, el: ElectionLog, tmp_path: Path) -> None:
    import json

    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("headless chromium not found; install it with `apt-get install chromium`")
    entries = list(el.entries)
    entries[150] = flip(entries[150], 60)
    pages = {
        "clean": clean,
        "dirty": audit(el.source(entries), el.trust),  # findings with long evidence
        "write-ins": _with_write_ins(clean, 22),
    }
    with Browser(browser, tmp_path / "profile") as chrome:
        for name, report in pages.items():
            page = tmp_path / f"{name}.html"
            page.write_text(render_html(report), encoding="utf-8")
            for width in (1280, 390):
                chrome.load(page.as_uri(), width)
                assert chrome.evaluate("innerWidth") == width
                layout = json.loads(chrome.evaluate(_LAYOUT))
                assert layout["scroll"] <= layout["inner"], (name, width, layout)
                assert layout["outside"] == [], (name, width, layout)
                assert chrome.evaluate("document.getElementById('verdict').textContent")
                shot = tmp_path / f"{name}-{width}.png"
                chrome.screenshot(shot)
                data = shot.read_bytes()
                assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
                assert int.from_bytes(data[16:20], "big") == width  # the PNG's width
