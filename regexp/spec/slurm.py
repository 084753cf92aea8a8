"""The `slurm` section of the spec: where `regexp sweep --executor slurm` asks Slurm to run each task
(sbatch's options, by the names sbatch gives them). Where a sweep runs is not what it trains: the
section stays out of the resolved config, so it changes neither a run's spec_hash nor the sweep's
identity. No TensorFlow here."""

import re
from typing import Optional

from pydantic import Field, field_validator

from regexp.spec.parts import Part

# sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes,
# days-hours:minutes:seconds (the sbatch man page's list)
TIME = r"\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2}"
MEMORY = r"\d+[KMGT]?"
SBATCH_OPTION = r"(#SBATCH\s+)?--[A-Za-z][A-Za-z0-9_-]*(=\S.*)?"


class Slurm(Part):
    partition: Optional[str] = Field(None, min_length=1, description="The partition (sbatch --partition; default: "
                                                                     "the cluster's default partition).")
    time: str = Field("01:00:00", description="Time limit of each job (sbatch --time: MM, HH:MM:SS, "
                                                             "D-HH:MM, ...). 90 s before it, a job's trials stop at "
                                                             "their next step boundary, end interrupted, and the sweep "
                                                             "resubmits them.")
    cpus_per_task: int = Field(2, ge=1, le=1024, description="CPUs of each job (a pack or a trial alone); its "
                                                             "TensorFlow thread pools take this size.")
    gpus_per_task: int = Field(0, ge=0, le=64, description="GPUs of each job (sbatch --gpus-per-task); 0 trains on "
                                                           "CPU even on a GPU node. run.json `device` records it.")
    mem: Optional[str] = Field(None, description="Memory of each job (sbatch --mem: 8G, "
                                                                         "16000M; default: the partition's).")
    account: Optional[str] = Field(None, min_length=1, description="The account charged (sbatch --account).")
    extra: list[str] = Field(
        default_factory=list, description="More sbatch options, one per item, as on an #SBATCH line: "
                                          "'--qos=high', '--constraint=a100', '--exclusive'.")

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str) -> str:
        if not re.fullmatch(TIME, value):
            raise ValueError(f"{value!r} is not a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS)")
        return value

    @field_validator("mem")
    @classmethod
    def _slurm_memory(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(MEMORY, value):
            raise ValueError(f"{value!r} is not a Slurm memory size (a number with an optional unit K, M, G or T: "
                             "8G, 16000M)")
        return value

    @field_validator("extra")
    @classmethod
    def _sbatch_options(cls, value: list[str]) -> list[str]:
        for line in value:
            if not re.fullmatch(SBATCH_OPTION, line):
                raise ValueError(f"{line!r} is not an sbatch option (--name=value or --flag, as on an #SBATCH line)")
        return value

    @property
    def minutes(self) -> int:
        """`time` in whole minutes (at least 1), as submitit takes it."""
        days, _, clock = self.time.rpartition("-")
        parts = [int(p) for p in clock.split(":")]
        if days:  # D-HH, D-HH:MM, D-HH:MM:SS
            hours, minutes, seconds = (parts + [0, 0])[:3]
        elif len(parts) == 3:  # HH:MM:SS
            hours, minutes, seconds = parts
        else:  # MM, MM:SS
            hours, (minutes, seconds) = 0, (parts + [0])[:2]
        return max(1, round(int(days or 0) * 1440 + hours * 60 + minutes + seconds / 60))

    def extra_options(self) -> dict[str, str | bool]:
        """`extra` as {option: value}, a bare flag as True (submitit's additional_parameters)."""
        out: dict[str, str | bool] = {}
        for line in self.extra:
            name, _, value = re.sub(r"^#SBATCH\s+", "", line).removeprefix("--").partition("=")
            out[name] = value or True
        return out
