"""Subentries named by the user (a solar array, a card): one way to add and change them."""

from collections.abc import Mapping
from typing import Any, ClassVar

import probatio
from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME


class NamedSubentryFlow(ConfigSubentryFlow):
    """Adding and changing check the data the same way; the name is the title."""

    schema: ClassVar[probatio.Schema]
    defaults: ClassVar[Mapping[str, Any]] = {}

    def _checked(
        self, user_input: dict[str, Any], own_id: str | None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The subentry's data, and field -> error key for what is wrong."""
        raise NotImplementedError

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = self._checked(user_input, None)
            if not errors:
                return self.async_create_entry(
                    title=user_input[CONF_NAME].strip(), data=data
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                self.schema, user_input or self.defaults
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        subentry = self._get_reconfigure_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = self._checked(user_input, subentry.subentry_id)
            if not errors:
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    title=user_input[CONF_NAME].strip(),
                    data=data,
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                self.schema,
                user_input or {**subentry.data, CONF_NAME: subentry.title},
            ),
            errors=errors,
        )
