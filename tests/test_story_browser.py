"""A story page in a real Chromium: the copy-link button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import Wall

pytestmark = pytest.mark.slow


def test_the_copy_button_copies_the_story_link(browser, tmp_path) -> None:
    wall = Wall(tmp_path)
    wall.story("maria", name="Maria Alvarez")
    wall.serve()
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(f"{wall.url}/stories/maria")
        button = page.locator("button[data-copy=story-link]")
        expect(button).to_have_text("Copy the link")
        button.click()  # visible only once copy.js has found the clipboard
        assert page.evaluate("navigator.clipboard.readText()") == f"{wall.url}/stories/maria"
        expect(button).to_have_text("Copied")
    finally:
        context.close()
        wall.stop()


def test_without_javascript_the_link_is_there_to_select(browser, tmp_path) -> None:
    wall = Wall(tmp_path)
    wall.story("maria", name="Maria Alvarez")
    wall.serve()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{wall.url}/stories/maria")
        assert page.input_value("#story-link") == f"{wall.url}/stories/maria"
        assert not page.is_visible(".copy-button")
    finally:
        context.close()
        wall.stop()
