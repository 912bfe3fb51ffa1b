"""Form selectors shared by the site, meter and charger flows."""

from typing import Any, override

import probatio
from homeassistant.helpers import selector


class RangeNumberSelector(selector.NumberSelector):
    """A number box whose out-of-range error says what is allowed.

    Home Assistant's own says only "Value 20.0 is too large"; the form shows the
    message as it is, so this one adds the range: "Value 20 is too large: allowed
    is 0 to 10 A". The frontend sees an ordinary number selector.
    """

    @override
    def __call__(self, data: Any) -> float:
        try:
            return super().__call__(data)
        except probatio.Invalid as err:
            config = self.config
            try:
                value = float(data)
            except TypeError, ValueError:
                raise err from None  # not a number: Home Assistant's own message
            if "min" not in config or "max" not in config:
                raise
            unit = config.get("unit_of_measurement")
            allowed = f"{config['min']:g} to {config['max']:g}" + (
                f" {unit}" if unit else ""
            )
            size = "small" if value < config["min"] else "large"
            raise probatio.Invalid(
                f"Value {value:g} is too {size}: allowed is {allowed}"
            ) from err


def number_box(
    minimum: float, maximum: float, step: float = 1, unit: str | None = None
) -> selector.NumberSelector:
    config = selector.NumberSelectorConfig(
        min=minimum, max=maximum, step=step, mode=selector.NumberSelectorMode.BOX
    )
    if unit:
        config["unit_of_measurement"] = unit
    return RangeNumberSelector(config)


def dropdown(options: list[str], translation_key: str) -> selector.SelectSelector:
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=options,
            translation_key=translation_key,
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
    )
