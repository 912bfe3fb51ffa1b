"""Run Home Assistant with a Stekker site on a simulated SDM630 meter, all on loopback.

The site is configured through Home Assistant's own REST API and the real config flow,
exactly as an installer would in the UI.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
CONFIG = DEMO / "config"
HA_URL = "http://127.0.0.1:8123"
CLIENT_ID = f"{HA_URL}/"
METER_PORT = 15020
CHARGER_PORT = 15021
CHARGERS = (("Carport left", 1), ("Carport right", 2))
SOLAR_ARRAY = {
    "name": "Roof south",
    "panels": 40,
    "wp_per_panel": 400,
    "azimuth_deg": 180,
    "tilt_deg": 35,
    "inverter_kw": 15,
    "losses_pct": 14,
}
USER = {"name": "Demo", "username": "demo", "password": "stekker-demo"}
SITE = {
    "name": "Demo office",
    "gtv_kw": 50,
    "phases": "3",
    "fuse_a": 80,
    "voltage_v": 230,
    "margin_kw": 1,
}
CONFIGURATION = """\
homeassistant:
  name: Stekker demo
  latitude: 52.09
  longitude: 5.12
  elevation: 5
  unit_system: metric
  time_zone: Europe/Amsterdam
  currency: EUR
  country: NL
http:
  server_host: 127.0.0.1
  server_port: 8123
frontend:
config:
logger:
  default: warning
  logs:
    custom_components.stekker: info
"""
BOOT_TIMEOUT = 240.0
HEADROOM_TIMEOUT = 60.0


def log(message: str) -> None:
    print(f"demo: {message}", flush=True)


def request(
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    form: bool = False,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(
        HA_URL + path, data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        payload = resp.read()
    return json.loads(payload) if payload else None


def wait_for_http(hass: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if hass.poll() is not None:
            raise SystemExit(f"Home Assistant exited early; see {DEMO / 'hass.log'}")
        try:
            steps: list[dict[str, Any]] = request("GET", "/api/onboarding")
        except urllib.error.HTTPError as err:
            if err.code == 404:  # onboarding finished on an earlier run
                return []
            raise
        except urllib.error.URLError, ConnectionError, TimeoutError:
            time.sleep(1.0)
            continue
        return steps
    raise SystemExit(f"Home Assistant did not answer within {BOOT_TIMEOUT:.0f} s")


def token_from_code(code: str) -> str:
    tokens = request(
        "POST",
        "/auth/token",
        {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
        form=True,
    )
    return str(tokens["access_token"])


def sign_in(steps: list[dict[str, Any]]) -> str:
    """Finish onboarding with the demo user on first start; log in afterwards."""
    if steps and not any(s["step"] == "user" and s["done"] for s in steps):
        result = request(
            "POST",
            "/api/onboarding/users",
            {**USER, "client_id": CLIENT_ID, "language": "en"},
        )
        token = token_from_code(result["auth_code"])
        request("POST", "/api/onboarding/core_config", {}, token)
        request("POST", "/api/onboarding/analytics", {}, token)
        request(
            "POST",
            "/api/onboarding/integration",
            {"client_id": CLIENT_ID, "redirect_uri": f"{HA_URL}/?auth_callback=1"},
            token,
        )
        return token
    flow = request(
        "POST",
        "/auth/login_flow",
        {
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": CLIENT_ID,
        },
    )
    result = request(
        "POST",
        f"/auth/login_flow/{flow['flow_id']}",
        {
            "username": USER["username"],
            "password": USER["password"],
            "client_id": CLIENT_ID,
        },
    )
    return token_from_code(result["result"])


def ensure_site(token: str) -> None:
    """Add the site through the real config flow unless it is there already."""
    entries = request(
        "GET", "/api/config/config_entries/entry?domain=stekker", token=token
    )
    if entries:
        return
    flow = request(
        "POST", "/api/config/config_entries/flow", {"handler": "stekker"}, token
    )
    steps: list[dict[str, Any]] = [
        SITE,
        {"next_step_id": "modbus_tcp"},
        {
            "host": "127.0.0.1",
            "port": METER_PORT,
            "unit_id": 1,
            "profile": "sdm630",
            "role": "grid",
        },
        {"next_step_id": "save"},
    ]
    for answer in steps:
        flow = request(
            "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", answer, token
        )
        if flow.get("errors"):
            raise SystemExit(
                f"config flow step {flow['step_id']} failed: {flow['errors']}"
            )
        if flow.get("step_id") == "verify":
            log(
                "meter readings shown to the installer: "
                + json.dumps(flow["description_placeholders"])
            )
    if flow.get("type") != "create_entry":
        raise SystemExit(f"config flow did not create the site: {flow}")
    log(f"site '{flow['title']}' configured")
    for name, unit_id in CHARGERS:
        add_charger(token, flow["result"]["entry_id"], name, unit_id)
    add_subentry(token, flow["result"]["entry_id"], "solar_array", [SOLAR_ARRAY])
    log(f"solar array '{SOLAR_ARRAY['name']}' added (built-in forecast, offline)")


def add_subentry(
    token: str, entry_id: str, kind: str, answers: list[dict[str, Any]]
) -> None:
    """Run a subentry flow of the site to its end, answer by answer."""
    base = "/api/config/config_entries/subentries/flow"
    flow = request("POST", base, {"handler": [entry_id, kind]}, token)
    for answer in answers:
        flow = request("POST", f"{base}/{flow['flow_id']}", answer, token)
        if flow.get("errors"):
            raise SystemExit(f"{kind} flow failed: {flow['errors']}")
    if flow.get("type") != "create_entry":
        raise SystemExit(f"{kind} flow did not finish: {flow}")


def add_charger(token: str, entry_id: str, name: str, unit_id: int) -> None:
    """Add an Alfen socket through the real charger subentry flow."""
    answers: list[dict[str, Any]] = [
        {"next_step_id": "modbus"},
        {
            "name": name,
            "host": "127.0.0.1",
            "port": CHARGER_PORT,
            "unit_id": unit_id,
            "profile": "alfen_eve",
            "phases": "3" if unit_id == 1 else "1",
            "phase": "l1",
            "min_a": 6,
            "max_a": 16 if unit_id == 1 else 32,
            "priority": 0,
            "fail_safe_a": 6,
        },
        {"next_step_id": "save"},
    ]
    add_subentry(token, entry_id, "charger", answers)
    log(f"charger '{name}' added")


def site_states(token: str) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = request("GET", "/api/states", token=token)
    return [
        s
        for s in states
        if s["entity_id"].startswith(
            (
                "sensor.demo_office",
                "sensor.grid_meter",
                "sensor.carport",
                "binary_sensor.demo",
            )
        )
    ]


def numeric(states: list[dict[str, Any]], suffix: str) -> int:
    """How many of the states whose id ends in `suffix` have a number."""
    count = 0
    for state in states:
        if state["entity_id"].endswith(suffix):
            try:
                float(state["state"])
            except ValueError:
                continue
            count += 1
    return count


def wait_for_headroom(token: str) -> list[dict[str, Any]]:
    """Until the headroom is known and the balancer has set every charger."""
    deadline = time.monotonic() + HEADROOM_TIMEOUT
    while time.monotonic() < deadline:
        states = site_states(token)
        if numeric(states, "available_charging_power") and numeric(
            states, "_setpoint"
        ) == len(CHARGERS):
            return states
        time.sleep(1.0)
    raise SystemExit("the site's headroom and charger setpoints did not get numbers")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="verify headless, then stop"
    )
    args = parser.parse_args()
    CONFIG.mkdir(parents=True, exist_ok=True)
    (CONFIG / "configuration.yaml").write_text(CONFIGURATION)
    components = CONFIG / "custom_components"
    components.mkdir(exist_ok=True)
    link = components / "stekker"
    if not link.is_symlink():
        link.symlink_to(ROOT / "custom_components" / "stekker")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    python = str(ROOT / ".venv" / "bin" / "python")
    with (
        (DEMO / "simsite.log").open("wb") as sim_log,
        (DEMO / "hass.log").open("wb") as hass_log,
    ):
        return run(args.check, python, env, sim_log, hass_log)


def run(
    check: bool, python: str, env: dict[str, str], sim_log: Any, hass_log: Any
) -> int:
    started = time.monotonic()
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "simsite",
                    "--port",
                    str(METER_PORT),
                    "--charger-port",
                    str(CHARGER_PORT),
                ],
                cwd=ROOT,
                env=env,
                stdout=sim_log,
                stderr=subprocess.STDOUT,
            )
        )
        log(
            f"simulated SDM630 meter on 127.0.0.1:{METER_PORT}, "
            f"Alfen sockets on 127.0.0.1:{CHARGER_PORT}"
        )
        hass = subprocess.Popen(
            [python, "-m", "homeassistant", "-c", str(CONFIG), "--skip-pip"],
            cwd=ROOT,
            env=env,
            stdout=hass_log,
            stderr=subprocess.STDOUT,
        )
        children.append(hass)
        steps = wait_for_http(hass)
        log(f"Home Assistant answers after {time.monotonic() - started:.0f} s")
        token = sign_in(steps)
        ensure_site(token)
        states = wait_for_headroom(token)
        log(f"headroom known after {time.monotonic() - started:.0f} s")
        for state in sorted(states, key=lambda s: s["entity_id"]):
            unit = state["attributes"].get("unit_of_measurement", "")
            print(f"  {state['entity_id']:55} {state['state']:>10} {unit}")
        if check:
            return 0
        log(
            f"open {HA_URL} and log in as {USER['username']} / {USER['password']}; Ctrl-C stops"
        )
        hass.wait()
        return hass.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
