"""Classes whose hooks have side effects: loading stored data must never run any of them.

An application imports modules like this one; an attacker who can write the checkpoint
database names these classes in a payload. Every hook records its name in ``RAN`` (and
``Upload`` writes a file, as in the report), so a test can prove that loading ran nothing.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, NamedTuple

import pydantic
import pydantic.v1

RAN: list[str] = []


@dataclasses.dataclass
class Upload:
    path: str

    def __post_init__(self) -> None:
        RAN.append("Upload.__post_init__")
        with open(self.path, "w") as f:
            f.write("pwned")


@dataclasses.dataclass
class NewHook:
    a: int

    def __new__(cls, *args: Any, **kwargs: Any) -> NewHook:
        RAN.append("NewHook.__new__")
        return super().__new__(cls)


class PostInitModel(pydantic.BaseModel):
    path: str

    def model_post_init(self, context: Any) -> None:
        RAN.append("PostInitModel.model_post_init")


class PrivateModel(pydantic.BaseModel):
    name: str
    _cache: dict[str, int] = pydantic.PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        RAN.append("PrivateModel.model_post_init")


class ValidatedModel(pydantic.BaseModel):
    path: str
    size: int = 0

    @pydantic.field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        RAN.append("ValidatedModel.field_validator")
        return value

    @pydantic.model_validator(mode="after")
    def _check_all(self) -> ValidatedModel:
        RAN.append("ValidatedModel.model_validator")
        return self


class NewHookModel(pydantic.BaseModel):
    a: int = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> NewHookModel:
        RAN.append("NewHookModel.__new__")
        return super().__new__(cls)


class V1Model(pydantic.v1.BaseModel):
    a: int = 0

    def __new__(cls, *args: Any, **kwargs: Any) -> V1Model:
        RAN.append("V1Model.__new__")
        return super().__new__(cls)

    @pydantic.v1.validator("a")
    def _check(cls, value: int) -> int:  # noqa: N805 - pydantic v1 validator
        RAN.append("V1Model.validator")
        return value


class MissingHook(enum.Enum):
    A = "a"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        RAN.append("MissingHook._missing_")
        return cls.A


class Perm(enum.Flag):
    R = 1
    W = 2
    X = 4


class Point(NamedTuple):
    x: int
    y: int = 0


class Plain:
    """A plain class an application lists in ``allowed_types``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Plain:
        RAN.append("Plain.__new__")
        return super().__new__(cls)

    def __init__(self, a: int = 0) -> None:
        RAN.append("Plain.__init__")
        self.a = a


class HookedError(Exception):
    def __init__(self, *args: Any) -> None:
        RAN.append("HookedError.__init__")
        super().__init__(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        RAN.append(f"HookedError.__setattr__({name})")
        super().__setattr__(name, value)
