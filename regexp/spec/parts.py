"""The building blocks of the spec models: a strict section and a one-of-several-keys section."""

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator


class Part(BaseModel):
    """A section of the spec: unknown keys are errors and values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OneOf(Part):
    """A section that sets exactly one of its keys ({rotate: 0.1}, {log_uniform: [1e-4, 1e-1]})."""

    one_of: ClassVar[str] = "give exactly one of"  # how the error starts: what the section is to the user

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"{self.one_of} {', '.join(type(self).model_fields)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @model_serializer
    def _only_the_given_key(self) -> dict[str, Any]:  # resolved configs read {rotate: 0.1}, not 7 keys
        return {self.kind: getattr(self, self.kind)}


Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
