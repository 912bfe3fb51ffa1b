"""Run Home Assistant with a Stekker site on a simulated residential complex, on loopback.

The complex (`python -m simsite`): an SDM630 at the grid connection, a second one
in the solar inverter's line, an Alfen Eve Double (two native Modbus sockets) and
two wallboxes that Home Assistant drives through `number` entities (its Modbus
integration and template numbers in configuration.yaml, as a user would write
them); one reports the id tag of the card that started a session, like OCPP.
Home Assistant runs with `default_config:` like a real installation (recorder,
history, energy, ...). The site is configured through Home Assistant's own REST
API and the real config flows, exactly as an installer would in the UI, and the
Energy dashboard gets the meters and the site's solar forecast. The demo runs
until Ctrl-C; when Home Assistant stops on its own the demo says why.

--check: verify the sensors over REST and the UI in a headless Chromium, then stop.
"""

import argparse
import asyncio
import base64
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import demo_browser

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_PORT = 8123
METER_PORT = 15020
CHARGER_PORT = 15021
WALLBOX_PORT = 15022
SOLAR_UNIT_ID = 2
RESTART_EXIT_CODE = 100  # Home Assistant asks its supervisor to start it again
CHARGERS = (("Carport left", 1), ("Carport right", 2))
# Chargers driven through the wallboxes' template numbers (see WALLBOXES below).
ENTITY_CHARGERS = (("Garage 1", 1, 16), ("Garage 2", 2, 32))
SOLAR_ARRAY = {
    "name": "Roof south",
    "panels": 40,
    "wp_per_panel": 400,
    "azimuth_deg": 180,
    "tilt_deg": 35,
    "inverter_kw": 15,
    "losses_pct": 14,
}
SOLAR_ENERGY = "solar_meter_eastron_sdm630_energy_imported"  # the PV meter counts production as import
WEATHER = "weather.demo_weather"
TIME_ZONE = "Europe/Amsterdam"
USER = {"name": "Demo", "username": "demo", "password": "stekker-demo"}
SITE = {
    "name": "Demo complex",
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
  time_zone: {time_zone}
  currency: EUR
  country: NL
  language: en
  # stekker.export_sessions may write its CSV files here (and nowhere else).
  allowlist_external_dirs:
    - "{exports}"
# Like a real installation: recorder, history, energy, logbook, the assistant, ...
{default_config}
# A local weather entity with an hourly cloud forecast (no internet): clouds that come
# and go over the day, so the site's built-in solar forecast is not clear sky.
template:
  - weather:
      - name: Demo weather
        unique_id: stekker_demo_weather
        condition: "partlycloudy"
        temperature: "{{{{ 7 }}}}"
        humidity: "{{{{ 85 }}}}"
        cloud_coverage: "{{{{ 50 }}}}"
        forecast_hourly: >
          {{% set start = now().replace(minute=0, second=0, microsecond=0) %}}
          {{% set ns = namespace(hours=[]) %}}
          {{% for hour in range(48) %}}
          {{% set clouds = (50 + 45 * sin(hour * 0.7)) | round(0) | int %}}
          {{% set ns.hours = ns.hours + [{{
            "datetime": (start + timedelta(hours=hour)).isoformat(),
            "condition": "cloudy" if clouds > 70 else "partlycloudy",
            "temperature": 7, "cloud_coverage": clouds}}] %}}
          {{% endfor %}}
          {{{{ ns.hours }}}}
{month}
{wallboxes}
logger:
  default: warning
  logs:
    custom_components.stekker: info
"""
# Two wallboxes as a user drives them with Home Assistant's own Modbus integration:
# sensors read them, a template number writes the current limit (register block in
# simsite/wallbox.py), and a template sensor gives the id tag of the card (OCPP-like).
WALLBOX_ENTITIES = """\
  - number:
{numbers}
  - sensor:
      - name: Wallbox 2 id tag
        unique_id: stekker_demo_wallbox_2_id_tag
        icon: mdi:card-account-details
        state: >
          {{% set tag = states('sensor.wallbox_2_id_tag_register') | trim %}}
          {{{{ tag if tag not in ('', 'unknown', 'unavailable') else none }}}}
modbus:
  - name: wallboxes
    type: tcp
    host: {host}
    port: {port}
    sensors:
{sensors}
    binary_sensors:
{binary_sensors}
"""
# A day and night tariff (now, and its hours ahead for the plan) for the sessions'
# cost, and this month's sessions per charger
# and per card from stekker.export_sessions, for the dashboard: template sensors, as
# a user would write them.
MONTH_ENTITIES = """\
  - sensor:
      - name: Electricity price
        unique_id: stekker_demo_electricity_price
        unit_of_measurement: EUR/kWh
        icon: mdi:cash
        state: "{{ 0.31 if 7 <= now().hour < 23 else 0.23 }}"
        attributes:
          prices: >
            {% set ns = namespace(rows=[]) %}
            {% for hour in range(48) %}
            {% set at = today_at() + timedelta(hours=hour) %}
            {% set ns.rows = ns.rows + [{
              'start': at.isoformat(),
              'end': (at + timedelta(hours=1)).isoformat(),
              'price': 0.31 if 7 <= at.hour < 23 else 0.23}] %}
            {% endfor %}
            {{ ns.rows }}
  - triggers:
      - trigger: time_pattern
        seconds: "/30"
    actions:
      - action: stekker.export_sessions
        data:
          month: "{{ now().strftime('%Y-%m') }}"
        response_variable: month
    sensor:
      - name: Charging sessions this month
        unique_id: stekker_demo_sessions_this_month
        icon: mdi:ev-station
        state: "{{ month.sessions | count }}"
        attributes:
          cards: "{{ month.cards }}"
          chargers: >
            {% set ns = namespace(rows=[]) %}
            {% for name in month.sessions | map(attribute='charger') | unique | sort %}
            {% set mine = month.sessions | selectattr('charger', 'eq', name) | list %}
            {% set ns.rows = ns.rows + [{
              'charger': name, 'sessions': mine | count,
              'energy_kwh': (mine | sum(attribute='energy_kwh')) | round(2),
              'solar_kwh': (mine | sum(attribute='solar_kwh')) | round(2)}] %}
            {% endfor %}
            {{ ns.rows }}"""
# Residents' cards, as the simulated wallbox reports their tags (simsite/__main__.py).
CARDS = (
    {
        "id_tag": "04A3F2B1C45E80",
        "name": "Flat 1A",
        "need_kwh": 20,
        "departure": "07:30:00",
    },
    {"id_tag": "04B7C61D2A9F81", "name": "Flat 2B"},
    {
        "id_tag": "0451E9A3BC7D82",
        "name": "Flat 3C",
        "need_kwh": 15,
        "departure": "17:00:00",
    },
)
MODES = {"carport_right": "min_solar", "garage_1": "solar"}  # the others: fast
QUARTER_BUDGET_KW = 40  # NL kW-max: the month's highest quarter-hour average is billed
DASHBOARD = ROOT / "docs" / "dashboard.yaml"
DASHBOARD_PATH = "stekker-complex"
SESSIONS_WANTED = 3
SESSIONS_TIMEOUT = 240.0
WALLBOX_NUMBER = """\
      - name: Wallbox {unit} current limit
        unique_id: stekker_demo_wallbox_{unit}_current_limit
        unit_of_measurement: A
        min: 0
        max: {max_a}
        step: 1
        state: "{{{{ states('sensor.wallbox_{unit}_current_limit_read_back') }}}}"
        availability: "{{{{ has_value('sensor.wallbox_{unit}_current_limit_read_back') }}}}"
        set_value:
          - action: modbus.write_register
            data:
              hub: wallboxes
              slave: {unit}
              address: 0
              value: "{{{{ value | int }}}}"
          - action: homeassistant.update_entity
            target:
              entity_id: sensor.wallbox_{unit}_current_limit_read_back"""
WALLBOX_SENSORS = """\
      - name: Wallbox {unit} current limit read back
        unique_id: stekker_demo_wallbox_{unit}_limit
        slave: {unit}
        address: 0
        input_type: holding
        data_type: uint16
        unit_of_measurement: A
        device_class: current
        scan_interval: 5
      - name: Wallbox {unit} power
        unique_id: stekker_demo_wallbox_{unit}_power
        slave: {unit}
        address: 1
        input_type: input
        data_type: uint32
        unit_of_measurement: W
        device_class: power
        state_class: measurement
        scan_interval: 2
      - name: Wallbox {unit} energy
        unique_id: stekker_demo_wallbox_{unit}_energy
        slave: {unit}
        address: 3
        input_type: input
        data_type: uint32
        unit_of_measurement: Wh
        device_class: energy
        state_class: total_increasing
        scan_interval: 10"""
WALLBOX_TAG_SENSOR = """\
      - name: Wallbox 2 id tag register
        unique_id: stekker_demo_wallbox_2_id_tag_register
        slave: 2
        address: 5
        input_type: input
        data_type: string
        count: 8
        scan_interval: 2"""
WALLBOX_BINARY_SENSOR = """\
      - name: Wallbox {unit} car connected
        unique_id: stekker_demo_wallbox_{unit}_connected
        slave: {unit}
        address: 0
        input_type: input
        device_class: plug
        scan_interval: 2"""
BOOT_TIMEOUT = 240.0
HEADROOM_TIMEOUT = 60.0
LOG_TAIL = 25


class DemoError(Exception):
    """The demo cannot go on; the message says why."""


def log(message: str) -> None:
    print(f"demo: {message}", flush=True)


class Demo:
    """One run of the demo: the simulated site, Home Assistant, and their logs."""

    def __init__(self, port: int) -> None:
        self.url = f"http://{HOST}:{port}"
        self.port = port
        version = os.environ.get("HA_VERSION", "")
        self.dir = ROOT / (f".demo-{version}" if version else ".demo")
        self.config = self.dir / "config"
        self.hass_log = self.dir / "hass.log"
        self.exports = self.config / "exports"
        self.sim_log = self.dir / "simsite.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
        self.sim: subprocess.Popen[bytes] | None = None
        self.hass: subprocess.Popen[bytes] | None = None
        self.token = ""

    @property
    def client_id(self) -> str:
        return f"{self.url}/"

    # --- HTTP and websocket ---------------------------------------------------

    def request(
        self,
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
            self.url + path, data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload = resp.read()
        return json.loads(payload) if payload else None

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.request(method, path, body, self.token)

    def ws(self, *commands: dict[str, Any]) -> list[Any]:
        """Send websocket commands in order; their results, or DemoError."""
        return asyncio.run(self._ws(list(commands)))

    async def _ws(self, commands: list[dict[str, Any]]) -> list[Any]:
        import aiohttp  # Home Assistant's own dependency

        results: list[Any] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{self.url}/api/websocket") as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (reply := await ws.receive_json())["type"] != "auth_ok":
                raise DemoError(f"websocket authentication failed: {reply}")
            for number, command in enumerate(commands, start=1):
                await ws.send_json({"id": number, **command})
                while (reply := await ws.receive_json()).get("id") != number:
                    pass
                if not reply.get("success"):
                    raise DemoError(f"{command['type']} failed: {reply.get('error')}")
                results.append(reply.get("result"))
        return results

    # --- processes ------------------------------------------------------------

    def prepare(self) -> None:
        """Configuration, HTTP settings and the integration, before HA starts."""
        for port in (self.port, METER_PORT, CHARGER_PORT, WALLBOX_PORT):
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((HOST, port))
                except OSError as err:
                    raise DemoError(
                        f"port {port} on {HOST} is in use ({err.strerror}): is another "
                        "demo or Home Assistant running? Stop it"
                        + (" or pick another --port" if port == self.port else "")
                    ) from err
        self.config.mkdir(parents=True, exist_ok=True)
        self.exports.mkdir(exist_ok=True)
        (self.config / "configuration.yaml").write_text(
            CONFIGURATION.format(
                default_config=default_config(),
                wallboxes=wallbox_config(),
                month=MONTH_ENTITIES,
                exports=self.exports,
                time_zone=TIME_ZONE,
            )
        )
        write_http_settings(self.config, self.port)
        write_onboarding(self.config)
        components = self.config / "custom_components"
        components.mkdir(exist_ok=True)
        link = components / "stekker"
        if not link.is_symlink():
            link.symlink_to(ROOT / "custom_components" / "stekker")

    def start_sim(self, sink: IO[bytes]) -> None:
        self.sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simsite",
                "--port",
                str(METER_PORT),
                "--charger-port",
                str(CHARGER_PORT),
                "--wallbox-port",
                str(WALLBOX_PORT),
                "--solar-unit-id",
                str(SOLAR_UNIT_ID),
            ],
            cwd=ROOT,
            # The building's day on the site's clock (Home Assistant's time zone).
            env={**self.env, "TZ": TIME_ZONE},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        log(
            f"simulated SDM630 grid and solar meters on {HOST}:{METER_PORT}, "
            f"Alfen sockets on {HOST}:{CHARGER_PORT}, wallboxes on {HOST}:{WALLBOX_PORT}"
        )

    def start_hass(self, sink: IO[bytes]) -> None:
        self.hass = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homeassistant",
                "-c",
                str(self.config),
                "--skip-pip",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def why_stopped(self, name: str, proc: subprocess.Popen[bytes], path: Path) -> str:
        code = proc.returncode
        meaning = (
            f"killed by signal {signal.Signals(-code).name}"
            if code < 0
            else f"exit code {code}"
        )
        return f"{name} stopped ({meaning}); last lines of {path}:\n" + tail(
            path, LOG_TAIL
        )

    def check_alive(self) -> None:
        if self.sim is not None and self.sim.poll() is not None:
            raise DemoError(
                self.why_stopped("the simulated site", self.sim, self.sim_log)
            )
        if self.hass is not None and self.hass.poll() is not None:
            raise DemoError(
                self.why_stopped("Home Assistant", self.hass, self.hass_log)
            )

    def stop(self) -> None:
        for child in (self.hass, self.sim):
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in (self.hass, self.sim):
            if child is None:
                continue
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    # --- set-up through the API ----------------------------------------------

    def wait_for_http(self) -> list[dict[str, Any]]:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                steps: list[dict[str, Any]] = self.request("GET", "/api/onboarding")
            except urllib.error.HTTPError as err:
                if err.code == 404:  # onboarding finished on an earlier run
                    return []
                raise
            except urllib.error.URLError, ConnectionError, TimeoutError:
                time.sleep(1.0)
                continue
            return steps
        raise DemoError(
            f"Home Assistant did not answer within {BOOT_TIMEOUT:.0f} s; last lines of "
            f"{self.hass_log}:\n{tail(self.hass_log, LOG_TAIL)}"
        )

    def token_from_code(self, code: str) -> str:
        tokens = self.request(
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.client_id,
            },
            form=True,
        )
        return str(tokens["access_token"])

    def login_code(self, redirect_uri: str) -> str:
        """An authorization code for the demo user through the login flow."""
        flow = self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": redirect_uri,
            },
        )
        result = self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {
                "username": USER["username"],
                "password": USER["password"],
                "client_id": self.client_id,
            },
        )
        return str(result["result"])

    def sign_in(self, steps: list[dict[str, Any]]) -> None:
        """Finish onboarding with the demo user on first start; log in afterwards."""
        if steps and not any(s["step"] == "user" and s["done"] for s in steps):
            result = self.request(
                "POST",
                "/api/onboarding/users",
                {**USER, "client_id": self.client_id, "language": "en"},
            )
            self.token = self.token_from_code(result["auth_code"])
            return
        self.token = self.token_from_code(self.login_code(self.client_id))

    def browser_login_url(self) -> str:
        """A URL that opens the frontend logged in as the demo user."""
        code = self.login_code(f"{self.url}/?auth_callback=1")
        state = base64.b64encode(
            json.dumps({"hassUrl": self.url, "clientId": self.client_id}).encode()
        ).decode()
        query = urllib.parse.urlencode(
            {"auth_callback": 1, "code": code, "state": state, "storeToken": "true"}
        )
        return f"{self.url}/?{query}"

    def site_entry(self) -> dict[str, Any] | None:
        entries: list[dict[str, Any]] = self.api(
            "GET", "/api/config/config_entries/entry?domain=stekker"
        )
        return entries[0] if entries else None

    def ensure_site(self) -> str:
        """Add the site through the real config flow unless it is there already."""
        if (entry := self.site_entry()) is not None:
            return str(entry["entry_id"])
        flow = self.api(
            "POST", "/api/config/config_entries/flow", {"handler": "stekker"}
        )
        steps: list[dict[str, Any]] = [
            SITE,
            {"next_step_id": "modbus_tcp"},
            {
                "host": HOST,
                "port": METER_PORT,
                "unit_id": 1,
                "profile": "sdm630",
                "role": "grid",
            },
            {"next_step_id": "save"},
        ]
        for answer in steps:
            flow = self.api(
                "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", answer
            )
            if flow.get("errors"):
                raise DemoError(
                    f"config flow step {flow['step_id']} failed: {flow['errors']}"
                )
            if flow.get("step_id") == "verify":
                log(
                    "meter readings shown to the installer: "
                    + json.dumps(flow["description_placeholders"])
                )
        if flow.get("type") != "create_entry":
            raise DemoError(f"config flow did not create the site: {flow}")
        log(f"site '{flow['title']}' configured")
        entry_id = str(flow["result"]["entry_id"])
        self.add_subentry(
            entry_id,
            "meter",
            [
                {"next_step_id": "modbus_tcp"},
                {
                    "host": HOST,
                    "port": METER_PORT,
                    "unit_id": SOLAR_UNIT_ID,
                    "profile": "sdm630",
                    "role": "solar",
                },
                {"next_step_id": "save"},
            ],
        )
        log("solar meter added (an SDM630 in the inverter's line)")
        for name, unit_id in CHARGERS:
            self.add_charger(entry_id, name, unit_id)
        for name, unit, max_a in ENTITY_CHARGERS:
            self.wait_for_number(f"number.wallbox_{unit}_current_limit")
            self.add_entity_charger(entry_id, name, unit, max_a)
        self.add_subentry(entry_id, "solar_array", [SOLAR_ARRAY])
        self.set_options(
            entry_id,
            "forecast",
            {"forecast_source": "builtin", "weather_entity": WEATHER},
        )
        log(
            f"solar array '{SOLAR_ARRAY['name']}' added (built-in forecast, offline, "
            f"with the clouds of {WEATHER})"
        )
        self.set_options(
            entry_id, "grid_limit", {"quarter_budget_kw": QUARTER_BUDGET_KW}
        )
        log(f"quarter-hour budget {QUARTER_BUDGET_KW} kW (the month peak is billed)")
        self.set_options(
            entry_id, "prices", {"price_entity": "sensor.electricity_price"}
        )
        for card in CARDS:
            self.add_subentry(entry_id, "card", [card])
        log(
            f"cards of {', '.join(str(c['name']) for c in CARDS)}; sessions priced by "
            "sensor.electricity_price"
        )
        return entry_id

    def set_modes(self) -> None:
        """Charging modes as residents pick them; Flat 1A's and 3C's cards plan."""
        for charger, mode in MODES.items():
            self.api(
                "POST",
                "/api/services/select/select_option",
                {"entity_id": f"select.{charger}_charging_mode", "option": mode},
            )
        log(
            "charging modes: "
            + ", ".join(f"{charger} {mode}" for charger, mode in MODES.items())
        )

    def set_options(self, entry_id: str, step: str, answer: dict[str, Any]) -> None:
        """Configure -> ``step`` of the site's options, as in the UI."""
        base = "/api/config/config_entries/options/flow"
        flow = self.api("POST", base, {"handler": entry_id})
        for reply in ({"next_step_id": step}, answer):
            flow = self.api("POST", f"{base}/{flow['flow_id']}", reply)
            if flow.get("errors"):
                raise DemoError(f"{step} options refused: {flow['errors']}")
        if flow.get("type") != "create_entry":
            raise DemoError(f"{step} options not saved: {flow}")

    def add_subentry(
        self, entry_id: str, kind: str, answers: list[dict[str, Any]]
    ) -> None:
        """Run a subentry flow of the site to its end, answer by answer."""
        base = "/api/config/config_entries/subentries/flow"
        flow = self.api("POST", base, {"handler": [entry_id, kind]})
        for answer in answers:
            flow = self.api("POST", f"{base}/{flow['flow_id']}", answer)
            if flow.get("errors"):
                raise DemoError(f"{kind} flow failed: {flow['errors']}")
        if flow.get("type") != "create_entry":
            raise DemoError(f"{kind} flow did not finish: {flow}")

    def add_charger(self, entry_id: str, name: str, unit_id: int) -> None:
        """Add an Alfen socket through the real charger subentry flow."""
        answers: list[dict[str, Any]] = [
            {"next_step_id": "modbus"},
            {
                "name": name,
                "host": HOST,
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
        self.add_subentry(entry_id, "charger", answers)
        log(f"charger '{name}' added")

    def wait_for_number(self, entity_id: str) -> None:
        """Until the Modbus integration has read the wallbox (its number has a value)."""
        deadline = time.monotonic() + HEADROOM_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                float(self.api("GET", f"/api/states/{entity_id}")["state"])
            except urllib.error.HTTPError as err:
                if err.code != 404:  # not there yet: the template is still starting
                    raise
            except ValueError:
                pass
            else:
                return
            time.sleep(1.0)
        raise DemoError(f"{entity_id} got no value within {HEADROOM_TIMEOUT:.0f} s")

    def add_entity_charger(
        self, entry_id: str, name: str, unit: int, max_a: int
    ) -> None:
        """Add a wallbox through the charger flow's "number entity" step."""
        answers: list[dict[str, Any]] = [
            {"next_step_id": "entity"},
            {
                "name": name,
                "number_entity": f"number.wallbox_{unit}_current_limit",
                "power_entity": f"sensor.wallbox_{unit}_power",
                "status_entity": f"binary_sensor.wallbox_{unit}_car_connected",
                "energy_entity": f"sensor.wallbox_{unit}_energy",
                **({"id_tag_entity": "sensor.wallbox_2_id_tag"} if unit == 2 else {}),
                "phases": "3",
                "phase": "l1",
                "min_a": 6,
                "max_a": max_a,
                "priority": 0,
                "fail_safe_a": 0,
            },
            {"next_step_id": "save"},
        ]
        self.add_subentry(entry_id, "charger", answers)
        log(
            f"charger '{name}' added (driven through number.wallbox_{unit}_current_limit)"
        )

    def entity_id(self, suffix: str, prefix: str = "sensor.") -> str:
        """The one entity whose id starts with prefix and ends with suffix."""
        states: list[dict[str, Any]] = self.api("GET", "/api/states")
        found = [
            s["entity_id"]
            for s in states
            if s["entity_id"].startswith(prefix) and s["entity_id"].endswith(suffix)
        ]
        if len(found) != 1:
            raise DemoError(f"expected one {prefix}*{suffix}, found {found}")
        return str(found[0])

    def ensure_energy(self, site_entry_id: str) -> None:
        """Energy dashboard: the grid meter, the PV meter and the site's solar forecast."""
        try:
            (prefs,) = self.ws({"type": "energy/get_prefs"})
        except DemoError:  # nothing saved yet
            prefs = {}
        if prefs.get("energy_sources"):
            return
        grid = {
            "type": "grid",
            "stat_energy_from": self.entity_id(
                "grid_meter_eastron_sdm630_energy_imported"
            ),
            "stat_energy_to": self.entity_id(
                "grid_meter_eastron_sdm630_energy_exported"
            ),
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": None,
            "stat_compensation": None,
            "entity_energy_price_export": None,
            "number_energy_price_export": None,
            "cost_adjustment_day": 0,
        }
        solar = {
            "type": "solar",
            "stat_energy_from": self.entity_id(SOLAR_ENERGY),
            "config_entry_solar_forecast": [site_entry_id],
        }
        self.ws({"type": "energy/save_prefs", "energy_sources": [grid, solar]})
        log("Energy dashboard: grid meter, solar meter and the site's forecast")

    def install_dashboard(self) -> None:
        """docs/dashboard.yaml as a dashboard, and that as everyone's default one.

        As the UI does it: Settings -> Dashboards -> Add dashboard, its raw
        configuration saved, then "Set as default" (a system setting since 2026.x).
        """
        import yaml  # Home Assistant's own dependency

        config = yaml.safe_load(DASHBOARD.read_text(encoding="utf-8"))
        (dashboards,) = self.ws({"type": "lovelace/dashboards/list"})
        if not any(d["url_path"] == DASHBOARD_PATH for d in dashboards):
            self.ws(
                {
                    "type": "lovelace/dashboards/create",
                    "url_path": DASHBOARD_PATH,
                    "title": config["title"],
                    "icon": "mdi:home-lightning-bolt",
                    "show_in_sidebar": True,
                    "require_admin": False,
                }
            )
        (core,) = self.ws({"type": "frontend/get_system_data", "key": "core"})
        self.ws(
            {
                "type": "lovelace/config/save",
                "url_path": DASHBOARD_PATH,
                "config": config,
            },
            {
                "type": "frontend/set_system_data",
                "key": "core",
                "value": {**(core.get("value") or {}), "default_panel": DASHBOARD_PATH},
            },
        )
        log(f"default dashboard: {DASHBOARD.relative_to(ROOT)} at /{DASHBOARD_PATH}")

    def export_sessions(self, **data: Any) -> dict[str, Any]:
        """stekker.export_sessions over REST, this month (the site's time zone)."""
        month = datetime.now(ZoneInfo(TIME_ZONE)).strftime("%Y-%m")
        reply = self.api(
            "POST",
            "/api/services/stekker/export_sessions?return_response",
            {"month": month, **data},
        )
        response: dict[str, Any] = reply["service_response"]
        return response

    def wait_for_sessions(self) -> list[dict[str, Any]]:
        """Until the cars' comings and goings have recorded a few sessions."""
        deadline = time.monotonic() + SESSIONS_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            sessions: list[dict[str, Any]] = self.export_sessions()["sessions"]
            if len([s for s in sessions if s["end"]]) >= SESSIONS_WANTED:
                return sessions
            time.sleep(5.0)
        raise DemoError(
            f"fewer than {SESSIONS_WANTED} charging sessions ended within "
            f"{SESSIONS_TIMEOUT:.0f} s"
        )

    def wait_for_charging(self) -> None:
        """Until the evening's first cars have come home and draw (the dashboard's view)."""
        entity = "sensor.demo_complex_charging_power"
        deadline = time.monotonic() + SESSIONS_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                charging_kw = float(self.api("GET", f"/api/states/{entity}")["state"])
            except ValueError:
                charging_kw = 0.0
            if charging_kw >= 1.0:
                log(f"cars home and charging: {charging_kw:.1f} kW")
                return
            time.sleep(2.0)
        raise DemoError(
            f"no car charged within {SESSIONS_TIMEOUT:.0f} s ({entity} stayed below 1 kW)"
        )

    def plan_overnight(self) -> None:
        """The evening's first car needs 30 kWh by 07:30: its charger plans the night."""
        local = datetime.now(ZoneInfo(TIME_ZONE))
        departure = local.replace(hour=7, minute=30, second=0, microsecond=0)
        if departure <= local:
            departure += timedelta(days=1)
        self.api(
            "POST",
            "/api/services/stekker/set_charging_need",
            {
                "entity_id": "select.carport_left_charging_mode",
                "energy_kwh": 30,
                "departure": departure.isoformat(),
            },
        )
        deadline = time.monotonic() + HEADROOM_TIMEOUT
        entity = "sensor.carport_left_planned_power"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                planned_kw = float(self.api("GET", f"/api/states/{entity}")["state"])
            except ValueError:
                time.sleep(2.0)
                continue
            log(
                f"Carport left needs 30 kWh by {departure:%H:%M}: planned, "
                f"{planned_kw:.1f} kW now"
            )
            return
        raise DemoError(f"{entity} got no plan within {HEADROOM_TIMEOUT:.0f} s")

    def check_export(self) -> Path:
        """The CSV export lands in the allowed folder with one row per session."""
        result = self.export_sessions(folder=str(self.exports))
        if not result.get("file"):
            raise DemoError(f"export_sessions wrote no file: {result}")
        path = Path(result["file"])
        if path.parent != self.exports or not path.is_file():
            raise DemoError(f"the export is not in {self.exports}: {path}")
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
        if len(rows) != len(result["sessions"]) or not rows:
            raise DemoError(
                f"{path.name} has {len(rows)} rows for {len(result['sessions'])} sessions"
            )
        missing = {"charger", "card_name", "energy_kwh", "solar_kwh", "cost"} - set(
            rows[0]
        )
        if missing:
            raise DemoError(f"{path.name} lacks the columns {sorted(missing)}")
        cards = sorted({r["card_name"] for r in rows if r["card_name"]})
        log(
            f"CSV export: {path.name}, {len(rows)} sessions"
            + (f" (cards: {', '.join(cards)})" if cards else "")
        )
        return path

    def site_states(self) -> list[dict[str, Any]]:
        states: list[dict[str, Any]] = self.api("GET", "/api/states")
        return [
            s
            for s in states
            if s["entity_id"].startswith(
                (
                    "sensor.demo_complex",
                    "sensor.grid_meter",
                    "sensor.solar_meter",
                    "sensor.carport",
                    "sensor.garage",
                    "binary_sensor.demo",
                )
            )
        ]

    def wait_for_headroom(self) -> list[dict[str, Any]]:
        """Until the headroom is known and the balancer has set every charger."""
        deadline = time.monotonic() + HEADROOM_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            states = self.site_states()
            if numeric(states, "available_charging_power") and numeric(
                states, "_setpoint"
            ) == len(CHARGERS) + len(ENTITY_CHARGERS):
                return states
            time.sleep(1.0)
        missing = [
            f"{s['entity_id']}={s['state']}"
            for s in states
            if s["entity_id"].endswith(("available_charging_power", "_setpoint"))
            and not numeric([s], s["entity_id"])
        ]
        raise DemoError(
            "the site's headroom and charger setpoints did not get numbers: "
            + (", ".join(missing) or "no such entities")
        )

    def check_energy_forecast(self, site_entry_id: str) -> None:
        """The Energy integration serves the site's forecast, and it can be picked."""
        pickable = self.api(
            "GET", "/api/config/config_entries/entry?domain=stekker&type=service"
        )
        if site_entry_id not in {e["entry_id"] for e in pickable}:
            raise DemoError(
                "the site is not a config entry of type 'service': the Energy "
                "dashboard's Forecast production picker will not list it"
            )
        info, forecasts = self.ws(
            {"type": "energy/info"}, {"type": "energy/solar_forecast"}
        )
        if "stekker" not in info.get("solar_forecast_domains", []):
            raise DemoError(f"energy/info lists no stekker forecast: {info}")
        hours = forecasts.get(site_entry_id, {}).get("wh_hours", {})
        total = sum(hours.values()) / 1000
        if not hours or total <= 0:
            raise DemoError(
                f"energy/solar_forecast has no energy for the site: {hours}"
            )
        log(
            f"Energy: the site's forecast is pickable and serves {len(hours)} hours, "
            f"{total:.1f} kWh today and tomorrow"
        )

    def check_http_settings(self) -> None:
        """HTTP runs on the stored stable settings: nothing pending that would revert."""
        (issues,) = self.ws({"type": "repairs/list_issues"})
        http_issues = [i["issue_id"] for i in issues["issues"] if i["domain"] == "http"]
        if http_issues:
            raise DemoError(f"Home Assistant raised HTTP repair issues: {http_issues}")
        stored = json.loads((self.config / ".storage" / "http").read_text())["data"]
        if stored.get("pending") is not None:
            raise DemoError(f"a pending HTTP config would revert: {stored['pending']}")

    def setup_errors(self) -> list[str]:
        """Integrations that failed to set up, from the log (missing requirements)."""
        path = self.config / "home-assistant.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        markers = ("Setup failed for", "No module named", "Unable to install package")
        return [line for line in lines if any(m in line for m in markers)]


def write_http_settings(config: Path, port: int) -> None:
    """HTTP on loopback as HA's stored, confirmed ("stable") settings.

    Since Home Assistant 2026.10 an `http:` YAML block is only imported as a pending
    setting that reverts (with a restart) unless someone confirms it in the UI.
    Older versions read YAML, so they get the block there.
    """
    try:
        from homeassistant.components.http import config as http_config
    except ImportError:
        with (config / "configuration.yaml").open("a") as yaml:
            yaml.write(f"http:\n  server_host: {HOST}\n  server_port: {port}\n")
        return
    stable = dict(
        http_config.HTTP_STORAGE_SCHEMA({"server_host": [HOST], "server_port": port})
    )
    stable.update(
        created_at="2026-01-01T00:00:00+00:00", error=None, error_message=None
    )
    storage = config / ".storage"
    storage.mkdir(exist_ok=True)
    (storage / "http").write_text(
        json.dumps(
            {
                "version": http_config.STORAGE_VERSION,
                "minor_version": http_config.STORAGE_MINOR_VERSION,
                "key": http_config.STORAGE_KEY,
                "data": {
                    "stable": stable,
                    "pending": None,
                    "yaml_migration_done": True,
                },
            },
            indent=2,
        )
    )


def write_onboarding(config: Path) -> None:
    """Mark onboarding's later steps done before the first start.

    The location, units and language are in configuration.yaml; onboarding's
    core_config step would also add a weather service, internet radio and
    text-to-speech, which go to the internet, and the demo stays on loopback.
    The demo user is still created through onboarding's REST API.
    """
    from homeassistant.components import onboarding

    path = config / ".storage" / "onboarding"
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "version": onboarding.STORAGE_VERSION,
                "minor_version": 1,
                "key": onboarding.STORAGE_KEY,
                "data": {"done": ["core_config", "analytics", "integration"]},
            }
        )
    )


def default_config() -> str:
    """`default_config:`, or its list without go2rtc where that cannot start.

    In a container Home Assistant runs the go2rtc binary its image ships (for
    camera streams); a container without it fails go2rtc, and with it
    default_config. There the demo lists default_config's other integrations.
    """
    from homeassistant.util.package import is_docker_env

    if not is_docker_env() or shutil.which("go2rtc"):
        return "default_config:"
    import homeassistant.components

    manifest = (
        Path(homeassistant.components.__file__).parent
        / "default_config"
        / "manifest.json"
    )
    domains = json.loads(manifest.read_text())["dependencies"]
    log("container without the go2rtc binary: default_config without go2rtc")
    return "\n".join(f"{domain}:" for domain in domains if domain != "go2rtc")


def wallbox_config() -> str:
    """The template numbers, the id tag sensor and the Modbus hub of the wallboxes."""
    units = [(unit, max_a) for _name, unit, max_a in ENTITY_CHARGERS]
    return WALLBOX_ENTITIES.format(
        host=HOST,
        port=WALLBOX_PORT,
        numbers="\n".join(WALLBOX_NUMBER.format(unit=u, max_a=m) for u, m in units),
        sensors="\n".join(
            [*(WALLBOX_SENSORS.format(unit=u) for u, _ in units), WALLBOX_TAG_SENSOR]
        ),
        binary_sensors="\n".join(
            WALLBOX_BINARY_SENSOR.format(unit=u) for u, _ in units
        ),
    )


def tail(path: Path, count: int) -> str:
    try:
        with path.open(errors="replace") as lines:
            return "".join(deque(lines, maxlen=count)).rstrip()
    except FileNotFoundError:
        return "(no log)"


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


def run(demo: Demo, check: bool, screenshots: Path) -> int:
    started = time.monotonic()
    with demo.sim_log.open("ab") as sim_sink, demo.hass_log.open("ab") as hass_sink:
        demo.start_sim(sim_sink)
        demo.start_hass(hass_sink)
        steps = demo.wait_for_http()
        log(
            f"Home Assistant answers on {demo.url} after {time.monotonic() - started:.0f} s"
        )
        demo.sign_in(steps)
        site = demo.ensure_site()
        states = demo.wait_for_headroom()
        log(f"headroom known after {time.monotonic() - started:.0f} s")
        for state in sorted(states, key=lambda s: s["entity_id"]):
            unit = state["attributes"].get("unit_of_measurement", "")
            print(f"  {state['entity_id']:55} {state['state']:>10} {unit}")
        demo.ensure_energy(site)
        demo.check_energy_forecast(site)
        demo.set_modes()
        demo.install_dashboard()
        if check:
            demo.check_http_settings()
            if errors := demo.setup_errors():
                raise DemoError(
                    "integrations failed to set up:\n" + "\n".join(errors[:20])
                )
            sessions = demo.wait_for_sessions()
            log(
                f"{len(sessions)} charging sessions this month after "
                f"{time.monotonic() - started:.0f} s"
            )
            demo.check_export()
            demo.wait_for_charging()
            demo.plan_overnight()
            browser_started = time.monotonic()
            try:
                demo_browser.check(
                    demo, site, str(SITE["name"]), SOLAR_ENERGY, screenshots
                )
            except demo_browser.CheckFailed as err:
                raise DemoError(str(err)) from err
            log(
                f"browser check passed in {time.monotonic() - browser_started:.0f} s; "
                f"whole check {time.monotonic() - started:.0f} s"
            )
            return 0
        log(
            f"open {demo.url} and log in as {USER['username']} / {USER['password']}; "
            "Ctrl-C stops"
        )
        while True:
            time.sleep(1.0)
            hass = demo.hass
            assert hass is not None
            code = hass.poll()
            if code == RESTART_EXIT_CODE:
                log("Home Assistant asked for a restart: starting it again")
                demo.start_hass(hass_sink)
                continue
            if code == 0:  # stopped on request (the homeassistant.stop action)
                log(demo.why_stopped("Home Assistant", hass, demo.hass_log))
                return 0
            demo.check_alive()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check",
        action="store_true",
        help="verify over REST and in headless Chromium, then stop",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="where --check saves its screenshots (default: the demo's directory)",
    )
    args = parser.parse_args()
    # Closing the terminal or `kill` stops the children too (the finally below).
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: sys.exit(128 + number))
    demo = Demo(args.port)
    screenshots = (args.screenshots or demo.dir / "screenshots").resolve()
    try:
        if args.check and (missing := demo_browser.missing_tools()):
            raise DemoError(
                "the browser check cannot run; missing:\n  - " + "\n  - ".join(missing)
            )
        demo.prepare()
        return run(demo, args.check, screenshots)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except DemoError as err:
        print(f"demo: FAILED: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
