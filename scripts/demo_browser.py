"""The browser half of `scripts/demo --check`: the UI as a person sees it.

Drives the system's Chromium (Debian packages `chromium` and `chromium-driver`)
headless with selenium; nothing is downloaded at run time. Logs in with a login-flow
code, opens the site's device page, the Energy configuration (and its solar dialog)
and the Energy dashboard, reads their text through the shadow roots of Home
Assistant's web components, and fails when a page does not render Stekker's
entities (or stays on the launch screen, "Loading..."). Saves a screenshot of each.
"""

import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # demo.py runs as __main__ and hands itself in
    from demo import Demo

PAGE_TIMEOUT = 60.0
WINDOW = (1400, 1000)
PHONE = (412, 915)  # a common phone's viewport in CSS pixels
# What a card shows for an entity it cannot show; none may be on the dashboard.
NOT_LIVE = ("Entity not available", "Entity not found", "Unavailable", "unavailable")

# Visible text of the page, through every open shadow root, one text node a line.
TEXT_JS = """
const out = [];
const skip = new Set(["STYLE", "SCRIPT", "TEMPLATE"]);
function walk(node) {
  if (node.nodeType === Node.TEXT_NODE) {
    const text = node.textContent.trim();
    if (text) out.push(text);
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE && node.nodeType !== Node.DOCUMENT_FRAGMENT_NODE) return;
  if (node.nodeType === Node.ELEMENT_NODE) {
    if (skip.has(node.tagName)) return;
    if (node.shadowRoot) walk(node.shadowRoot);
  }
  for (const child of node.childNodes) walk(child);
}
walk(document.body);
return out.join("\\n");
"""
# The first element with this tag (and label, if given) through the shadow roots.
FIND_JS = """
const [tag, label] = arguments;
function find(node) {
  if (node.nodeType === Node.ELEMENT_NODE) {
    if (node.localName === tag && (!label || node.label === label || node.getAttribute("label") === label)) return node;
    if (node.shadowRoot) { const hit = find(node.shadowRoot); if (hit) return hit; }
  }
  for (const child of node.children || []) { const hit = find(child); if (hit) return hit; }
  return null;
}
return find(document.body);
"""
# The forecast checkboxes of the solar dialog: which config entry, checked or not.
FORECAST_CHECKBOXES_JS = """
const out = [];
function walk(node) {
  if (node.nodeType === Node.ELEMENT_NODE) {
    if (node.localName === "ha-checkbox" && node.entry) {
      out.push({domain: node.entry.domain, entry_id: node.entry.entry_id,
                title: node.entry.title, checked: !!node.checked});
    }
    if (node.shadowRoot) walk(node.shadowRoot);
  }
  for (const child of node.children || []) walk(child);
}
walk(document.body);
return out;
"""


# How tall the dashboard's view is, so a screenshot can show all of it.
VIEW_HEIGHT_JS = """
let tallest = document.documentElement.scrollHeight;
function walk(node) {
  if (node.nodeType === Node.ELEMENT_NODE) {
    if (node.scrollHeight > tallest && node.scrollHeight < 20000) tallest = node.scrollHeight;
    if (node.shadowRoot) walk(node.shadowRoot);
  }
  for (const child of node.children || []) walk(child);
}
walk(document.body);
return tallest;
"""


class CheckFailed(Exception):
    """The UI does not show what a person should see; the message says what."""


def log(message: str) -> None:
    print(f"demo: {message}", flush=True)


LAUNCH_SCREEN_JS = """
const screen = document.getElementById("ha-launch-screen");
return !!screen && !screen.classList.contains("removing");
"""


def missing_tools() -> list[str]:
    """What the check needs and this machine lacks, as a person would install it."""
    missing = []
    if shutil.which("chromium") is None:
        missing.append("the browser: Debian package 'chromium' (no 'chromium' on PATH)")
    if shutil.which("chromedriver") is None:
        missing.append(
            "its driver: Debian package 'chromium-driver' (no 'chromedriver' on PATH)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium in the venv: run scripts/setup")
    return missing


class Browser:
    """One headless Chromium, logged in to the demo's Home Assistant."""

    def __init__(self, demo: Demo, screenshots: Path) -> None:
        if missing := missing_tools():
            raise CheckFailed(
                "the browser check cannot run; missing:\n  - "
                + "\n  - ".join(missing)
                + "\n(scripts/setup installs them with apt-get where it can:"
                " 'apt-get install chromium chromium-driver')"
            )
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        os.environ["SE_OFFLINE"] = "true"  # selenium must not fetch drivers
        options = Options()
        options.binary_location = str(shutil.which("chromium"))
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--lang=en-US",
        ):
            options.add_argument(argument)
        self.demo = demo
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)
        self.driver = webdriver.Chrome(
            options=options, service=Service(str(shutil.which("chromedriver")))
        )

    def close(self) -> None:
        self.driver.quit()

    def text(self) -> str:
        return str(self.driver.execute_script(TEXT_JS))

    def open(self, path: str) -> None:
        self.driver.get(self.demo.url + path)

    def wait_for(
        self,
        page: str,
        expected: Iterable[str | re.Pattern[str]],
        screenshot: str,
        also: Callable[[], str | None] | None = None,
    ) -> str:
        """Until every expected text (or pattern) is on the page; else fail and say what.

        `also`, when given, returns what is still wrong with the page (None: nothing).
        """
        wanted = list(expected)
        deadline = time.monotonic() + PAGE_TIMEOUT
        while True:
            text = self.text()
            missing = [
                w.pattern if isinstance(w, re.Pattern) else w
                for w in wanted
                if (not w.search(text) if isinstance(w, re.Pattern) else w not in text)
            ]
            problem = also() if also is not None and not missing else None
            if not missing and problem is None:
                return text
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        failed = self.save(f"FAILED-{screenshot}")
        loading = bool(self.driver.execute_script(LAUNCH_SCREEN_JS)) or (
            "Loading" in text
        )
        raise CheckFailed(
            f"{page} did not render as expected within {PAGE_TIMEOUT:.0f} s"
            + (
                " - it still shows 'Loading...' (the frontend did not start)"
                if loading
                else ""
            )
            + (f"\n  missing: {missing}" if missing else "")
            + (f"\n  {problem}" if problem else "")
            + f"\n  page text: {' | '.join(text.splitlines()[:60])}"
            + f"\n  screenshot: {failed}"
        )

    def save(
        self, name: str, height: int | None = None, width: int | None = None
    ) -> Path:
        path = self.screenshots / name
        if height is not None or width is not None:
            self.driver.set_window_size(width or WINDOW[0], height or WINDOW[1])
            time.sleep(2.0)  # let the page lay itself out again
        self.driver.save_screenshot(str(path))
        if height is not None or width is not None:
            self.driver.set_window_size(*WINDOW)
        return path

    def page_height(self) -> int:
        """The height the current view needs to show whole (through shadow roots)."""
        return int(self.driver.execute_script(VIEW_HEIGHT_JS))

    def click(self, tag: str, label: str) -> None:
        element = self.driver.execute_script(FIND_JS, tag, label)
        if element is None:
            raise CheckFailed(
                f"no {tag} labelled {label!r} on {self.driver.current_url}"
            )
        self.driver.execute_script("arguments[0].click()", element)


def site_device_id(demo: Demo, site_entry_id: str, name: str) -> str:
    (devices,) = demo.ws({"type": "config/device_registry/list"})
    for device in devices:
        if site_entry_id in device["config_entries"] and device["name"] == name:
            return str(device["id"])
    raise CheckFailed(f"no device {name!r} for the site's config entry")


def check_dashboard(browser: Browser) -> list[Path]:
    """The manager's dashboard (the default one) with live values, desktop and phone."""
    number = r"-?\d+(?:[.,]\d+)?"
    expected: list[str | re.Pattern[str]] = [
        "Grid connection",
        re.compile("Headroom"),
        re.compile(number + r"\s*%"),  # the GTV utilisation gauge
        "Phases against the 80 A fuse",
        "Production against the forecast",
        "Month peak",
        *("Carport left", "Carport right", "Garage 1", "Garage 2"),
        "Limited by",
        "Will not make it",
        # This month's sessions: a charger's row and a card's (sessions, energy).
        re.compile(
            r"Per charger\n[\s\S]*(Carport|Garage) [\w ]+\n\d+\n" + number + "\n"
        ),
        re.compile(r"Per card\n[\s\S]*Flat \d[A-C]\n\d+\n" + number + "\n"),
    ]

    def live() -> str | None:
        text = browser.text()
        shown = [word for word in NOT_LIVE if word in text]
        return f"cards show {shown}" if shown else None

    browser.open("/")  # the default dashboard
    browser.wait_for("the manager's dashboard", expected, "dashboard.png", also=live)
    time.sleep(2.0)  # gauges and graphs animate into place
    height = min(browser.page_height() + 80, 6000)
    saved = [browser.save("dashboard.png", height=height)]
    browser.driver.set_window_size(*PHONE)
    time.sleep(2.0)
    phone_height = min(browser.page_height() + 80, 12000)
    saved.append(
        browser.save("dashboard-phone.png", height=phone_height, width=PHONE[0])
    )
    log("browser: the dashboard shows the complex with live values (desktop and phone)")
    return saved


def wait_for_solar_energy(demo: Demo, suffix: str) -> str:
    """The PV meter's energy sensor has a value; returns its name as the UI shows it."""
    entity = demo.entity_id(suffix)
    deadline = time.monotonic() + 90.0
    while time.monotonic() < deadline:
        state = demo.api("GET", f"/api/states/{entity}")
        try:
            float(state["state"])
        except ValueError:
            time.sleep(2.0)
            continue
        return str(state["attributes"].get("friendly_name", entity))
    raise CheckFailed(f"{entity} got no value within 90 s")


def check(
    demo: Demo, site_entry_id: str, site_name: str, solar_energy: str, screenshots: Path
) -> list[Path]:
    """Every page a person opens first; returns the screenshots.

    site_name: the site's device; solar_energy: the id suffix of the Energy
    dashboard's solar source.
    """
    device = site_device_id(demo, site_entry_id, site_name)
    solar_energy = wait_for_solar_energy(demo, solar_energy)
    browser = Browser(demo, screenshots)
    saved: list[Path] = []
    try:
        started = time.monotonic()
        browser.driver.get(demo.browser_login_url())
        browser.wait_for(
            "the home page (after logging in)", ["Settings", "Energy"], "home.png"
        )
        log(
            f"browser: logged in, the frontend runs ({time.monotonic() - started:.1f} s)"
        )
        saved += check_dashboard(browser)

        browser.open(f"/config/devices/device/{device}")
        value = r"\n-?[\d.,]+\s*"
        browser.wait_for(
            "the site's device page",
            [
                site_name,
                "Stekker",
                re.compile("Available charging power" + value + "kW"),
                re.compile("Grid power" + value + "kW"),
                re.compile("Building load" + value + "kW"),
                re.compile("Forecast headroom" + value + "kW"),
                re.compile("GTV utilisation" + value + "%"),
                re.compile("Available current L1" + value + "A"),
                re.compile("Solar forecast power" + value + "kW"),
                "Balancing problem",
            ],
            "device.png",
        )
        saved.append(browser.save("device.png", height=1500))
        log("browser: the site's device page shows its sensors with values")

        browser.open("/config/energy")
        browser.wait_for(
            "the Energy configuration",
            ["Electricity grid", "Energy imported", "Energy exported", solar_energy],
            "energy-config.png",
        )
        saved.append(browser.save("energy-config.png", height=1500))
        browser.click("ha-icon-button", "Edit solar production")

        def site_is_the_forecast() -> str | None:
            boxes = browser.driver.execute_script(FORECAST_CHECKBOXES_JS)
            ours = [b for b in boxes if b["entry_id"] == site_entry_id]
            if not ours:
                return f"the site is not among the forecast choices {boxes}"
            if not ours[0]["checked"]:
                return "the site is listed under Forecast production but not ticked"
            return None

        browser.wait_for(
            "the solar production dialog",
            ["Forecast production", site_name],
            "energy-solar-forecast.png",
            also=site_is_the_forecast,
        )
        saved.append(browser.save("energy-solar-forecast.png"))
        log("browser: Energy settings list the meter; the site is the solar forecast")

        browser.open("/energy")
        browser.wait_for(
            "the Energy dashboard", ["Solar production", "Grid"], "energy-dashboard.png"
        )
        time.sleep(2.0)  # the charts draw on a canvas after the text is there
        saved.append(browser.save("energy-dashboard.png", height=1400))
        log("browser: the Energy dashboard shows solar production with the forecast")
    finally:
        browser.close()
    for path in saved:
        log(f"screenshot: {path}")
    return saved
