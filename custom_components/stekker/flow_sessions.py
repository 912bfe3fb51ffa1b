"""Card subentries: a resident's RFID card, with the defaults for their car."""

from typing import Any, Final

import probatio
from homeassistant.const import CONF_NAME
from homeassistant.helpers import selector

from .const import (
    CONF_DEPARTURE,
    CONF_ID_TAG,
    CONF_NEED_KWH,
    SUBENTRY_CARD,
)
from .engine.sessions import id_tag_valid, normalize_tag
from .flow_named import NamedSubentryFlow

MAX_NEED_KWH: Final = 200.0

CARD_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_ID_TAG): selector.TextSelector(),
        probatio.Required(CONF_NAME): selector.TextSelector(),
        probatio.Optional(CONF_NEED_KWH): selector.NumberSelector(
            selector.NumberSelectorConfig(
                mode=selector.NumberSelectorMode.BOX,
                step=0.5,
                unit_of_measurement="kWh",
            )
        ),
        probatio.Optional(CONF_DEPARTURE): selector.TimeSelector(),
    }
)


class CardSubentryFlow(NamedSubentryFlow):
    """Add or change a card: its id tag, the resident's name, their car's need."""

    schema = CARD_SCHEMA

    def _checked(
        self, user_input: dict[str, Any], own_id: str | None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The card's data, and field -> error key for what is wrong."""
        errors: dict[str, str] = {}
        tag = normalize_tag(user_input[CONF_ID_TAG])
        if not id_tag_valid(tag):
            errors[CONF_ID_TAG] = "id_tag_invalid"
        elif any(
            normalize_tag(sub.data[CONF_ID_TAG]) == tag
            for sub in self._get_entry().get_subentries_of_type(SUBENTRY_CARD)
            if sub.subentry_id != own_id
        ):
            errors[CONF_ID_TAG] = "id_tag_duplicate"
        if not user_input[CONF_NAME].strip():
            errors[CONF_NAME] = "name_required"
        data: dict[str, Any] = {CONF_ID_TAG: tag}
        need = user_input.get(CONF_NEED_KWH)
        if need is not None:
            data[CONF_NEED_KWH] = float(need)
            if not 0.0 < need <= MAX_NEED_KWH:
                errors[CONF_NEED_KWH] = "need_out_of_range"
        if departure := user_input.get(CONF_DEPARTURE):
            data[CONF_DEPARTURE] = departure
            if need is None:
                errors[CONF_DEPARTURE] = "departure_without_need"
        return data, errors
