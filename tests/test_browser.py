"""A real browser on the real page: upload, train, watch progress, the curve and the
live samples, generate, score a text, and check the generated text for copies.

Needs Debian's chromium (`apt-get install -y chromium`) and the playwright package;
without them the test is skipped, unless WORDLSTM_REQUIRE_BROWSER=1 (as in CI).
Set WORDLSTM_SCREENSHOT=path to keep the screenshot.
"""
import os
import re
import shutil

import pytest

from conftest import TINY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("WORDLSTM_REQUIRE_BROWSER") != "1",
    reason="chromium is not installed (apt-get install -y chromium)")


def test_upload_train_generate_in_a_browser(url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY)
    shot = os.environ.get("WORDLSTM_SCREENSHOT") or str(tmp_path / "screenshot.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        expect(page.get_by_text("wordlstm").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("The loss curve appears here")).to_be_visible()  # no empty axes before training

        page.locator("input[type=file]").first.set_input_files(str(corpus))
        expect(page.get_by_text("distinct words")).to_be_visible(timeout=30_000)

        epochs = page.get_by_label("Epochs")
        epochs.fill("0")  # train by the clock: six seconds learn the tiny text by heart
        epochs.press("Tab")
        budget = page.get_by_label("Time budget (s)")
        budget.fill("6")
        budget.press("Tab")
        page.get_by_role("button", name="Train", exact=True).click()
        # Progress: gradio's bar, or our status line's epoch and step (both are updated while it trains).
        progress = page.locator(".progress-text, .progress-level, .eta-bar").or_(
            page.get_by_text(re.compile(r"Training on .+: epoch \d+, step \d+")))
        expect(progress.first).to_be_attached(timeout=10_000)
        # The status line says "Training on ..." while it trains, under a progress overlay that may hide it.
        expect(page.get_by_text(re.compile("Training on|Done:")).first).to_be_visible(timeout=30_000)
        expect(page.locator(".vega-embed, canvas").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("validation perplexity").first).to_be_visible(timeout=60_000)
        sample = page.locator(".cell-wrap >> visible=true").filter(has_text=re.compile(r"^\s*the \w+ \w+"))
        expect(sample.first).to_be_visible(timeout=60_000)  # a live sample in the table, while training
        expect(page.get_by_text("Done:")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Model: your model (run 1, trained here), trained on tiny.txt")).to_be_visible()
        expect(page.locator(".cell-wrap >> visible=true").filter(has_text="tiny.txt").first).to_be_visible()  # Runs
        expect(page.get_by_text("The loss curve appears here")).to_be_hidden()  # the empty state gave way

        # A second run, then back to the first through the Runs table.
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_text("Model: your model (run 2, trained here)")).to_be_visible(timeout=60_000)
        run = page.get_by_label("Run", exact=True)
        run.fill("1")
        run.press("Tab")
        page.get_by_role("button", name="Use this run's model").click()
        expect(page.get_by_text("Model: your model (run 1, trained here)")).to_be_visible(timeout=30_000)
        prompt = page.get_by_label("Prompt").input_value()
        assert prompt.lower().split()[0] in TINY.split()  # an opening of the user's text, not Anna Karenina's

        page.get_by_label("Prompt").fill("the cat")
        page.get_by_role("button", name="Generate", exact=True).click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('textarea')].some(t => t.value.startsWith('the cat ') && t.value.split(' ').length > 10)",
            timeout=30_000)

        page.get_by_label("Text to score").fill(TINY[:300])
        page.get_by_role("button", name="Score", exact=True).click()
        expect(page.get_by_text("Perplexity", exact=False).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("The ten most surprising words")).to_be_visible()

        page.get_by_role("button", name="Use the generated text").click()
        page.get_by_role("button", name="Check for copies").click()
        # A text learnt by heart is written back: copies found, and marked in the text.
        expect(page.get_by_text(re.compile(r"6-word sequences are new; \d+ copied span"))).to_be_visible(timeout=30_000)
        page.wait_for_function(  # words painted in the "copied" colour (#fca5a5), besides the legend's swatch
            "() => [...document.querySelectorAll('span')].some(e => !e.closest('.legend')"
            " && getComputedStyle(e).backgroundColor.startsWith('rgba(252, 165, 165') && e.textContent.trim())",
            timeout=10_000)
        page.screenshot(path=shot, full_page=True)
        browser.close()
    assert os.path.getsize(shot) > 10_000
