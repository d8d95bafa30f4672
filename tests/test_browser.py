"""A real browser on the real page: upload, train, watch progress, the curve and the
live samples, generate, score a text, and check the generated text for copies.

Needs Debian's chromium (`apt-get install -y chromium`) and the playwright package;
without them the test is skipped, unless WORDLSTM_REQUIRE_BROWSER=1 (as in CI).
Set WORDLSTM_SCREENSHOTS=folder to keep the screenshots (docs/ holds the README's, taken so:
WORDLSTM_SCREENSHOTS=docs python -m pytest tests/test_browser.py).
"""
import importlib.util
import os
import re
import shutil

import pytest

from conftest import TINY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("WORDLSTM_REQUIRE_BROWSER") != "1",
    reason="chromium is not installed (apt-get install -y chromium)")]
# The tiny text's tokens written as prose, as a user's text is: the model writes as its text does (its learned
# surface), so the samples' "no space before a mark" holds for a text that writes so.
PROSE = ('The cat sat on the mat. The dog ate the bone, and the bird sang a song! "Where is the cat?" asked the '
         'dog. The cat is on the mat. ') * 12


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"])


def tab(page, name: str):
    """Open the page's tab `name` ("1. Train", "2. Write", ...)."""
    page.get_by_role("tab", name=name).click()


def advanced(page):
    """The Advanced block of settings, opened (it is folded by default)."""
    block = page.locator("#advanced")
    if not page.get_by_label("Epochs", exact=True).is_visible():
        block.get_by_text("Advanced settings").first.click()
    return block


def train_when_settled(page, seconds: int, text: str, epochs: int = 0):
    """Set the time budget (and an epochs cap, if any, in the Advanced block), then press Train once the
    estimate names `text` and what ends the run. The upload and each setting redo the estimate, which
    rewrites the lines above the button: a click while they still move can land beside it, and nothing
    trains (a test failed so, once in many runs)."""
    from playwright.sync_api import expect

    if epochs or page.get_by_label("Epochs", exact=True).is_visible():
        advanced(page)
    for label, value in (("Epochs", epochs), ("Time budget (s)", seconds)):
        field = page.get_by_label(label, exact=True)
        if label == "Epochs" and not field.is_visible():
            continue  # folded away, at its default
        field.fill(str(value))
        field.press("Tab")
    estimate = page.locator("#estimate")
    expect(estimate).to_contain_text(text, timeout=30_000)
    expect(estimate).to_contain_text(f"{epochs} epochs will end it" if epochs else f"fit in {seconds} s",
                                     timeout=30_000)
    page.get_by_role("button", name="Train", exact=True).click()


def test_write_with_the_model_and_end_a_text_where_asked_in_a_browser(url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        tab(page, "2. Write")
        box = page.locator("#writing textarea")
        expect(box).to_be_visible(timeout=30_000)
        box.press_sequentially("Anna, and the pr", delay=30)  # typed: the menu follows the word being typed
        options = page.locator("#next-word label")
        expect(options.first).to_have_text(re.compile(r"^\s*pr\w+\s+\d+%\s*$"), timeout=30_000)
        expect(page.get_by_text("Words that pr may be becoming.")).to_be_visible()
        word = options.first.inner_text().split()[0]
        options.first.click()  # written on in place of "pr"
        expect(box).to_have_value(f"Anna, and the {word} ", timeout=10_000)
        expect(options.first).not_to_have_text(re.compile(r"^\s*pr"), timeout=30_000)  # now the next word's

        page.get_by_label("Stop at").fill(",")
        page.get_by_role("button", name="Generate", exact=True).click()
        expect(page.get_by_text("Ended at ','.")).to_be_visible(timeout=30_000)
        text = page.get_by_label("Generated text").input_value()
        assert text.endswith(",") and text.count(",") == 2  # the prompt's, and the one it ended at
        browser.close()


def test_several_files_upload_and_train_as_documents_in_a_browser(url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    files = []
    for name, words in (("north.txt", "snow ice wind cold"), ("south.txt", "sun sand heat palm")):
        files.append(tmp_path / name)
        files[-1].write_text(" ".join(f"the {w} is here ." for w in words.split() * 60))
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        expect(page.get_by_text("wordlstm").first).to_be_visible(timeout=30_000)
        page.locator("input[type=file]").first.set_input_files([str(f) for f in files])
        expect(page.get_by_text("(2 files)")).to_be_visible(timeout=30_000)
        for name in ("north.txt", "south.txt"):  # each file's row: its tokens, its share, its held-out tail
            row = page.locator("tr").filter(has_text=name)
            expect(row).to_contain_text("1,200")
            expect(row).to_contain_text("50.0%")
        train_when_settled(page, 3, "north.txt")
        expect(page.get_by_text("Done:")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Done: trained on north.txt and 1 more")).to_be_visible()
        browser.close()


@pytest.mark.skipif(importlib.util.find_spec("spaces") is None,
                    reason="the spaces package is not installed (it is in the test extra)")
def test_on_a_zerogpu_space_whose_quota_is_spent_train_trains_on_the_cpu_and_says_why_in_a_browser(tmp_path):
    """The app served as on a ZeroGPU Space (the real spaces package; its device API refuses the lease):
    the Train button still trains, on the CPU, and the page says what ZeroGPU said."""
    from playwright.sync_api import expect, sync_playwright
    from realspaces import space_app

    text = tmp_path / "cats.txt"
    text.write_text("the cat sat on the mat . a dog ran . " * 200)
    with space_app("quota") as (url, asked), sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(url)
        expect(page.get_by_text("wordlstm").first).to_be_visible(timeout=30_000)
        page.locator("input[type=file]").first.set_input_files(str(text))
        expect(page.get_by_text("distinct words")).to_be_visible(timeout=30_000)
        train_when_settled(page, 3, "cats.txt")
        expect(page.get_by_text("Done:")).to_be_visible(timeout=90_000)
        status = page.locator("#status").get_by_text(
            "ZeroGPU refused a GPU (ZeroGPU quota exceeded: Space app has reached its GPU limit.")
        expect(status).to_be_visible()
        expect(status).to_contain_text("on cpu")
        browser.close()
    assert any(path.startswith("/schedule?") for path in asked)  # the lease was asked for, and refused


def test_upload_train_generate_in_a_browser(url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(PROSE)
    shots = os.environ.get("WORDLSTM_SCREENSHOTS") or str(tmp_path)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        expect(page.get_by_text("wordlstm").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("The loss curve appears here")).to_be_visible()  # no empty axes before training
        expect(page.get_by_text("the sample, Anna Karenina, until you pick one")).to_be_visible(timeout=30_000)
        # The first step, whole in the first screen: the text, the budget and Train; the rest folded, and named.
        for thing in (page.locator("input[type=file]").first.locator(".."), page.get_by_label("Time budget (s)"),
                      page.get_by_role("button", name="Train", exact=True)):
            box = thing.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 800, box
        expect(page.locator("#advanced")).to_contain_text("Advanced settings: all at their defaults")
        expect(page.get_by_label("Epochs", exact=True)).to_be_hidden()  # folded
        page.screenshot(path=os.path.join(shots, "screenshot-first.png"))

        page.locator("input[type=file]").first.set_input_files(str(corpus))
        expect(page.get_by_text("distinct words")).to_be_visible(timeout=30_000)
        advanced(page)
        assert page.get_by_label("Epochs", exact=True).input_value() == "0"  # no cap: the time budget ends the run
        seed = page.get_by_label("Seed", exact=True).first
        seed.fill("3")
        seed.press("Tab")
        expect(page.locator("#advanced")).to_contain_text("Advanced settings, changed: seed 3", timeout=10_000)
        seed.fill("0")
        seed.press("Tab")
        expect(page.locator("#advanced")).to_contain_text("all at their defaults", timeout=10_000)
        expect(page.locator("#estimate")).to_contain_text(re.compile(r"tiny\.txt.* will end it"), timeout=30_000)

        page.set_viewport_size({"width": 1280, "height": 1800})
        train_when_settled(page, 8, "tiny.txt")
        # Progress has a place of its own; the curve and the samples are never covered while it trains.
        line = page.locator("#training-progress")
        expect(line).to_contain_text("step", timeout=30_000)
        covered = "el => [...el.querySelectorAll('.wrap')].some(w => w.classList.contains('generating') " \
                  "|| w.classList.contains('translucent') || w.querySelector('.progress-text, .eta-bar, .loader'))"
        checks, seen = [], []  # while it trains, as often as the page allows: how many depends on the machine
        while not page.get_by_text("Done:").is_visible():
            checks += [page.locator(f"#{block}").evaluate(covered) for block in ("training-curves", "samples")
                       if page.locator(f"#{block}").is_visible()]
            status = page.locator("#status").inner_text()
            if status.startswith("Training:"):  # one place says where the run stands: never empty, never two
                seen.append(line.inner_text())
                assert re.search(r"\d+% · Training on .* epoch \d+, step \d+", seen[-1]), seen[-1]
                assert not re.search(r"step \d", status), status
            if len(checks) in (1, 2):  # mid-training, for the README
                page.screenshot(path=os.path.join(shots, "screenshot-training.png"), full_page=True)
            page.wait_for_timeout(100)
        assert checks and not any(checks), checks
        assert seen
        steps = int(re.search(r"(\d+) steps in", page.locator("#status").inner_text()).group(1))
        expect(line).to_contain_text(re.compile(rf"100% · .*step {steps}\b"))  # the end, as the status says
        expect(page.get_by_text("validation perplexity").first).to_be_visible(timeout=60_000)
        # Live samples in the table, from the prompt "the" and written as text: capitalised, and no space before
        # a mark. Which words follow "the" is the model's choice, made in a time budget ("The. Cat the cat"): more
        # words is all it asks.
        cells = page.locator("#samples .cell-wrap >> visible=true")  # the headers' three, then the rows'
        newest = cells.nth(5).inner_text()  # the newest row's sample, the model the user gets: never empty
        assert re.match(r"^\s*The\b.* \w+", newest) and not re.search(r" [.,!?]", newest), newest
        expect(page.get_by_text("Model: your model (run 1, trained here), trained on tiny.txt")).to_be_hidden()
        expect(page.locator(".cell-wrap >> visible=true").filter(has_text="tiny.txt").first).to_be_visible()  # Runs
        expect(page.get_by_text("The loss curve appears here")).to_be_hidden()  # the empty state gave way
        for name in ("train", "validation"):  # the legend names both lines, inside the plot's block (not clipped)
            label = page.locator("#training-curves").get_by_text(name, exact=True).first
            expect(label).to_be_visible()
            assert label.evaluate("el => el.getBoundingClientRect().bottom <= "
                                  "el.closest('#training-curves').getBoundingClientRect().bottom"), name
        for header in page.locator("#runs thead th span.header").all():  # one line each: no "ru n", "secon ds"
            assert header.evaluate("el => el.getClientRects().length") == 1, header.inner_text()

        # A second run, to a number of epochs rather than a time budget: what the model then writes is the
        # same on any machine, however fast (run 1's 8 s gave "mat" 95% after "the cat sat on the" here, 46%
        # for "." on a slower machine). Then back to the first through the Runs table, and on to the second.
        train_when_settled(page, 300, "tiny.txt", epochs=30)
        expect(page.get_by_text(re.compile(r"Done: .* It is run 2"))).to_be_visible(timeout=120_000)
        for run in (1, 2):
            tab(page, "1. Train")
            page.get_by_label("Run", exact=True).click()
            page.get_by_role("option", name=re.compile(f"^run {run}: tiny.txt")).click()  # picked by number
            page.get_by_role("button", name="Use this run's model").click()
            tab(page, "2. Write")
            expect(page.get_by_text(f"Model: your model (run {run}, trained here)")).to_be_visible(timeout=30_000)
            prompt = page.get_by_label("Prompt").input_value()
            assert prompt.lower().split()[0] in TINY.split()  # an opening of the user's text, not Anna Karenina's
        tab(page, "1. Train")
        page.screenshot(path=os.path.join(shots, "screenshot.png"), full_page=True)
        page.get_by_role("button", name="Write with this model →").click()  # the next step, one click away
        expect(page.get_by_label("Prompt")).to_be_visible()

        page.get_by_label("Prompt").fill("the cat")
        page.get_by_role("button", name="Generate", exact=True).click()
        # The prompt written as text, then the model's words. What comes next is its choice ("the cat ?" is as
        # much the tiny text's as "the cat sat"), so "The cat" is followed by a space or a mark.
        page.wait_for_function(
            "() => [...document.querySelectorAll('textarea')].some(t => /^The cat[ ,.!?]/.test(t.value)"
            " && t.value.split(' ').length > 10)",
            timeout=30_000)
        expect(page.get_by_text(re.compile(r"^Ended (at|after) "))).to_be_visible(timeout=30_000)  # all streamed
        generated = page.get_by_label("Generated text").input_value()
        page.locator("#writing textarea").press_sequentially("the cat sat on the ", delay=20)  # the writing box, in use
        expect(page.locator("#next-word label").first).to_have_text(re.compile(r"^\s*mat\s"), timeout=30_000)
        page.screenshot(path=os.path.join(shots, "screenshot-write.png"), full_page=True)

        tab(page, "3. What the model learned")
        page.get_by_label("Text to score").fill(TINY[:300])
        page.get_by_role("button", name="Score", exact=True).click()
        expect(page.get_by_text(re.compile(r"^Perplexity \d")).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("The ten most surprising words")).to_be_visible()

        page.get_by_role("button", name="Use the generated text").click()
        page.get_by_role("button", name="Check for copies").click()
        # A text learnt by heart is written back: copies found, and marked in the text as it is written.
        expect(page.get_by_text(re.compile(r"6-word sequences are new; \d+ copied span"))).to_be_visible(timeout=30_000)
        copies = page.locator("#copies")
        page.wait_for_function(  # words painted in the "copied" colour (#fca5a5), besides the legend's swatch
            "() => [...document.querySelectorAll('#copies span')].some(e => !e.closest('.legend')"
            " && getComputedStyle(e).backgroundColor.startsWith('rgba(252, 165, 165') && e.textContent.trim())",
            timeout=10_000)
        shown = copies.locator(".textfield").inner_text()
        assert " ".join(shown.split()) == " ".join(generated.split())  # the text as written: "The", "mat."
        assert copies.locator(".textfield").evaluate("el => getComputedStyle(el).wordBreak") != "break-all"
        page.screenshot(path=os.path.join(shots, "screenshot-learned.png"), full_page=True)
        browser.close()
    assert all(os.path.getsize(os.path.join(shots, f)) > 10_000
               for f in ("screenshot.png", "screenshot-training.png", "screenshot-first.png", "screenshot-write.png",
                         "screenshot-learned.png"))
