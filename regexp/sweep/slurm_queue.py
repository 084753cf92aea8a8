"""What the Slurm pool (slurm_pool.py) asks Slurm itself: the sbatch settings of a sweep's jobs from
the spec's `slurm` section, whether sbatch accepts them, how many jobs fit at once, and each job's
state. Job states come from squeue, which every cluster has, and from sacct for a job squeue has
forgotten (MinJobAge, 5 minutes by default) where accounting runs: a cluster without slurmdbd
answers sacct with an error, and such a job's state is then unknown. No TensorFlow here."""

import shutil
import subprocess
from pathlib import Path

from regexp import compat
from regexp.errors import SpecError, UserError
from regexp.spec.slurm import Slurm

# A job in one of these states may still run its task and write its result.
IN_FLIGHT = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
             "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}
# Ended for a reason that running the task again does not remove (anything else without a result --
# CANCELLED, PREEMPTED, TIMEOUT, NODE_FAIL, BOOT_FAIL, DEADLINE, or unknown -- is resubmitted).
HOPELESS = {"FAILED", "OUT_OF_MEMORY"}


def sbatch_parameters(settings: Slurm, workers: int, job_name: str) -> dict:
    """The spec's `slurm` section as submitit's SlurmExecutor parameters. --no-requeue: the sweep is
    the one that runs a task again (a job Slurm requeued itself would train its trials a second time)."""
    parameters = {"job_name": job_name, "time": settings.minutes, "cpus_per_task": settings.cpus_per_task,
                  "array_parallelism": workers, "additional_parameters": {"no-requeue": True,
                                                                          **settings.extra_options()}}
    for key in ("partition", "mem", "account"):
        if getattr(settings, key) is not None:
            parameters[key] = getattr(settings, key)
    if settings.gpus_per_task:
        parameters["gpus_per_task"] = settings.gpus_per_task
    return parameters


def submitit():
    """The submitit package, or a SpecError saying how to install the extra."""
    try:
        import submitit
    except ImportError:
        raise SpecError("--executor slurm needs submitit, an optional extra: pip install 'regexp[slurm]'") from None
    return submitit


def batch_script(parameters: dict, folder: Path, tasks: int) -> str:
    """The sbatch file submitit writes for a job array of `tasks` (compat.py: submitit's own writer)."""
    submitit()
    return compat.sbatch_script(parameters, folder, tasks)


def check_sbatch(settings: Slurm, parameters: dict, folder: Path) -> None:
    """Refuse, before anything is submitted, settings sbatch would refuse (sbatch --test-only: a
    partition it does not know, more CPUs or GPUs than a node has, an unknown account): one sentence
    with Slurm's own reason."""
    if shutil.which("sbatch") is None:
        raise UserError("--executor slurm: sbatch is not on PATH here; run the sweep on a machine that submits "
                        "jobs to the cluster (a login node)")
    test = subprocess.run(["sbatch", "--test-only"], input=batch_script(parameters, folder, 1), capture_output=True,
                          text=True, timeout=60)
    if test.returncode != 0:
        reason = "; ".join(line.removeprefix("sbatch: error: ").strip() for line in test.stderr.splitlines()
                           if line.strip()) or f"exit status {test.returncode}"
        asked = ", ".join(f"{key}={value}" for key, value in settings.model_dump().items()
                          if value not in (None, [], 0) and key != "extra")
        raise UserError(f"slurm: sbatch refuses this sweep's jobs ({asked}): {reason}")


def slots(settings: Slurm) -> int:
    """How many jobs of `cpus_per_task` the partition's CPUs hold at once (sinfo; 1 when it cannot tell)."""
    command = ["sinfo", "-h", "-o", "%P %C", *(["-p", settings.partition] if settings.partition else [])]
    try:
        lines = [line.split() for line in subprocess.run(command, capture_output=True, text=True,
                                                         timeout=30).stdout.splitlines()]
        default = [cpus for name, cpus in lines if name.endswith("*")]  # sinfo marks the default partition
        total = int((default or [lines[0][1]])[0].split("/")[3])  # allocated/idle/other/total
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return 1
    return max(1, total // settings.cpus_per_task)


def queue_states(job_name: str) -> dict[str, str] | None:
    """{job id (array_task): state} of this sweep's jobs that squeue still lists, finished ones
    included; None when squeue cannot answer now (the controller restarting): judge nothing then."""
    try:
        listing = subprocess.run(["squeue", "-h", "-r", "--states=all", f"--name={job_name}", "-o", "%i|%T"],
                                 capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if listing.returncode != 0:
        return None
    return dict(line.split("|", 1) for line in listing.stdout.split() if "|" in line)


def accounted_state(job_id: str) -> str | None:
    """A job's final state from sacct (CANCELLED, TIMEOUT, ...); None without accounting."""
    try:
        answer = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State"], capture_output=True,
                                text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    words = answer.stdout.split()
    return words[0] if answer.returncode == 0 and words else None


def cancel(job_ids: list[str]) -> None:
    """scancel these jobs; one that already ended is no error here."""
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=60)


def array_lines(settings: Slurm, workers: int, tasks: int, folder: Path, job_name: str) -> list[str]:
    """What --dry-run shows of a Slurm sweep: its first round's job array and the array's sbatch lines."""
    script = batch_script(sbatch_parameters(settings, workers, job_name), folder, tasks)
    lines = [f"slurm: one job array per round (the first: {tasks} tasks, at most {min(tasks, workers)} at once), "
             f"each task a pack or a trial alone; job files and logs in {folder}"]
    return lines + [f"  {line}" for line in script.splitlines() if line.startswith("#SBATCH")]
