"""The rule book: which rules apply to a charge and with which parameters, as data.

A book has three layers, merged in order: `defaults`, then `payer_types[<payer type>]`,
then `payers[<payer id>]`. Each layer may set any of the `PayerSettings` fields; `rules`
maps a rule code to on/off and merges code by code, so a payer layer that switches one
rule off leaves the others as the layers below set them. A rule no layer names is on.

The primary payer (the first on the charge, the one the claim goes to) chooses the layer
for the charge. A charge without a payer uses the defaults alone (REQUIRED_FIELD reports
the missing payer).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.charge import Charge, ChargePayer, PayerType
from workers.formatter.rules.registry import REGISTRY, RULES
from workers.formatter.rules.results import Check
from workers.formatter.rules.tables import Tables, load_tables, read_data_text

TimingMethod = Literal["eight_minute", "per_code", "off"]
PAYER_TYPES: tuple[PayerType, ...] = (
    "medicare",
    "medicaid",
    "commercial",
    "workers_comp",
    "auto",
    "patient",
)


class RuleBookError(ValueError):
    """A rule book that cannot be used; raised when it is loaded, not per charge."""


class PayerSettings(BaseModel):
    """One layer of the book. Every field is optional: None means "as the layer below"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[str, bool] = Field(default_factory=dict)
    timely_filing_days: int | None = Field(default=None, ge=1, le=3650)
    #: Read the limit as whole calendar years: the deadline is the service date's
    #: anniversary, and a 29 February service date is due by 28 February (Medicare).
    #: A layer that sets timely_filing_days without this flag means plain days.
    timely_filing_calendar_year: bool | None = None
    timing_method: TimingMethod | None = None
    #: Procedure codes that need a prior authorization number; "*" means every code.
    authorization_required_codes: list[str] | None = None

    @field_validator("rules")
    @classmethod
    def _known_codes(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule codes {unknown}")
        return value

    @field_validator("authorization_required_codes")
    @classmethod
    def _upper(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [c.strip().upper() for c in value]


@dataclass(frozen=True)
class PayerRules:
    """The merged settings for one payer: what evaluate() and the checks read."""

    rules: Mapping[str, bool]
    timely_filing_days: int
    timely_filing_calendar_year: bool
    timing_method: TimingMethod
    authorization_required_codes: frozenset[str]

    def applies(self, code: str) -> bool:
        return self.rules.get(code, True)

    @cached_property
    def timely_filing_delta(self) -> dt.timedelta:
        return dt.timedelta(days=self.timely_filing_days)

    @cached_property
    def checks(self) -> tuple[Check, ...]:
        """The checks of the rules that apply, in registry order: decided once per payer
        instead of once per rule and charge."""
        return tuple(rule.check for rule in REGISTRY if self.applies(rule.code))

    def authorization_required(self, procedure_code: str) -> bool:
        codes = self.authorization_required_codes
        return "*" in codes or procedure_code in codes


_BASE = PayerSettings(
    timely_filing_days=90,
    timely_filing_calendar_year=False,
    timing_method="per_code",
    authorization_required_codes=[],
)


@cache
def _default_book() -> RuleBook:
    # The book is immutable, so every caller may share the one copy.
    return RuleBook.from_dict(json.loads(read_data_text("rulebook.json")))


def _merge(layers: list[PayerSettings]) -> PayerRules:
    rules: dict[str, bool] = {}
    values: dict[str, Any] = {}
    for layer in [_BASE, *layers]:
        rules.update(layer.rules)
        values.update({k: v for k, v in layer if k != "rules" and v is not None})
        if layer.timely_filing_days is not None and layer.timely_filing_calendar_year is None:
            # A layer that states a limit in days means days, whatever a lower layer said.
            values["timely_filing_calendar_year"] = False
    if values["timely_filing_calendar_year"] and values["timely_filing_days"] % 365:
        raise RuleBookError(
            "timely_filing_calendar_year needs timely_filing_days in whole years (365, 730, ...)"
        )
    return PayerRules(
        rules=MappingProxyType(rules),
        timely_filing_days=values["timely_filing_days"],
        timely_filing_calendar_year=values["timely_filing_calendar_year"],
        timing_method=values["timing_method"],
        authorization_required_codes=frozenset(values["authorization_required_codes"]),
    )


@dataclass(frozen=True)
class RuleBook:
    defaults: PayerSettings = _BASE
    payer_types: Mapping[str, PayerSettings] = field(default_factory=lambda: MappingProxyType({}))
    payers: Mapping[str, PayerSettings] = field(default_factory=lambda: MappingProxyType({}))
    tables: Tables = field(default_factory=Tables)
    #: Merged settings per (payer type, payer id); the book is immutable, so they never go stale.
    _merged: dict[tuple[str | None, str | None], PayerRules] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def default(cls) -> RuleBook:
        """The shipped book (`workers/formatter/data/rulebook.json`) and tables, read once."""
        return _default_book()

    @classmethod
    def load(cls, path: str | Path) -> RuleBook:
        """A book from a JSON file; its `tables` entries are read relative to that file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RuleBookError(f"cannot read rule book {path}: {exc}") from exc
        return cls.from_dict(data, base=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None) -> RuleBook:
        unknown = set(data) - {"description", "tables", "defaults", "payer_types", "payers"}
        if unknown:
            raise RuleBookError(f"unknown rule book sections {sorted(unknown)}")
        try:
            defaults = PayerSettings.model_validate(data.get("defaults", {}))
            types = {k: PayerSettings.model_validate(v) for k, v in data.get("payer_types", {}).items()}
            payers = {k: PayerSettings.model_validate(v) for k, v in data.get("payers", {}).items()}
        except ValidationError as exc:
            raise RuleBookError(f"invalid rule book: {exc}") from exc
        bad_types = sorted(set(types) - set(PAYER_TYPES))
        if bad_types:
            raise RuleBookError(f"unknown payer types {bad_types}; known: {list(PAYER_TYPES)}")
        try:
            tables = load_tables(data.get("tables"), base)
        except (OSError, ValueError) as exc:
            raise RuleBookError(f"cannot load the rule book's tables: {exc}") from exc
        book = cls(defaults, MappingProxyType(types), MappingProxyType(payers), tables)
        book._check_merges()
        return book

    def _check_merges(self) -> None:
        # Merge every layer once now so a bad combination fails at load, not mid-run.
        for payer_type in PAYER_TYPES:
            self.rules_for(payer_type)
            for payer_id in self.payers:
                self.rules_for(payer_type, payer_id)

    # -- overrides -------------------------------------------------------------------------

    def with_payer(self, payer_id: str, **settings: Any) -> RuleBook:
        """A copy with `settings` layered over what the book already says for `payer_id`."""
        return self._with("payers", payer_id, settings)

    def with_payer_type(self, payer_type: PayerType, **settings: Any) -> RuleBook:
        return self._with("payer_types", payer_type, settings)

    def _with(self, section: str, key: str, settings: Mapping[str, Any]) -> RuleBook:
        layers: Mapping[str, PayerSettings] = getattr(self, section)
        old = layers.get(key, PayerSettings())
        merged = old.model_dump(exclude_none=True)
        merged["rules"] = {**old.rules, **settings.get("rules", {})}
        merged.update({k: v for k, v in settings.items() if k != "rules"})
        try:
            layer = PayerSettings.model_validate(merged)
        except ValidationError as exc:
            raise RuleBookError(f"invalid settings for {section} {key}: {exc}") from exc
        updated = MappingProxyType({**layers, key: layer})
        book = replace(self, payers=updated) if section == "payers" else replace(self, payer_types=updated)
        book._check_merges()
        return book

    # -- reading ---------------------------------------------------------------------------

    def rules_for(self, payer_type: PayerType | None, payer_id: str | None = None) -> PayerRules:
        key = (payer_type, payer_id if payer_id in self.payers else None)
        merged = self._merged.get(key)
        if merged is None:
            layers = [self.defaults]
            if payer_type is not None and payer_type in self.payer_types:
                layers.append(self.payer_types[payer_type])
            if key[1] is not None:
                layers.append(self.payers[key[1]])
            merged = self._merged[key] = _merge(layers)
        return merged

    def rules_for_payer(self, payer: ChargePayer | None) -> PayerRules:
        if payer is None:
            return self.rules_for(None)
        return self.rules_for(payer.payer_type, payer.payer_id)

    def rules_for_charge(self, charge: Charge) -> PayerRules:
        # rules_for_payer(charge.primary_payer), unrolled: it runs for every charge.
        payers = charge.payers
        if not payers:
            return self.rules_for(None)
        payer = payers[0]
        payer_id = payer.payer_id
        merged = self._merged.get((payer.payer_type, payer_id if payer_id in self.payers else None))
        return merged if merged is not None else self.rules_for(payer.payer_type, payer_id)
