"""The Optuna side of a sweep: its storage, study, sampler, pruner and search space."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial

from .config import one_line, to_dict
from .errors import UserError
from .sweep_config import Sweep

# The settings that make a sweep what it is: a later run of the command must keep them (it may
# change `trials`, `workers` and `storage`).
FIXED = ("sampler", "sampler_seed", "pruner", "objective", "space")

# How long a worker waits for SQLite's lock before "database is locked": writes are short (a
# trial's values, an epoch's accuracy), so only a machine that is badly stuck waits this long.
SQLITE_TIMEOUT = 300

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep says what happens itself


def open_study(spec: Sweep, worker: int, closing: ExitStack) -> optuna.Study:
    """The sweep's study, made on first use; each worker draws with a sampler of its own seed.
    Its database connections are closed when `closing` is."""
    try:
        study = optuna.create_study(
            storage=closing.enter_context(connected(storage(spec))),
            study_name=spec.folder.name,
            direction="maximize",
            pruner=pruner(spec),
            load_if_exists=True,
        )
    except UserError:
        raise
    except Exception as error:  # a database that cannot be reached or read
        raise UserError(f"storage {spec.settings.storage or 'study.db'}: {one_line(error)}") from None
    study.sampler = sampler(spec, worker, len(study.get_trials(deepcopy=False)))
    return study


def storage(spec: Sweep) -> BaseStorage:
    """SQLite in the sweep folder, a database URL, or a journal file (a path ending in .log)."""
    url = spec.settings.storage
    if url is None:
        url = f"sqlite:///{(spec.folder / 'study.db').resolve().as_posix()}"
    if url.endswith(".log") and "://" not in url:
        return JournalStorage(JournalFileBackend(url))
    if "://" not in url:
        raise UserError(
            f"storage takes a database URL (sqlite:///study.db, postgresql://host/db, ...) or a journal "
            f"file ending in .log (got '{url}')"
        )
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT}} if url.startswith("sqlite") else {}
    return RDBStorage(url, engine_kwargs=engine)


@contextmanager
def connected(store: BaseStorage) -> Iterator[BaseStorage]:
    """The storage, its database connections closed when the block ends, not left to the garbage
    collector (which Python 3.13 warns of). A journal file is opened and closed by each write."""
    try:
        yield store
    finally:
        if isinstance(store, RDBStorage):
            store.remove_session()
            store.engine.dispose()


def sampler(spec: Sweep, worker: int, trials: int) -> optuna.samplers.BaseSampler:
    """Optuna's sampler; its seed moves on with the worker and the trials so far, so that two
    workers, or a continued sweep, do not draw the same values again."""
    seed = spec.settings.sampler_seed
    if seed is not None:
        seed = seed * 1_000_003 + worker * 10_007 + trials
    if spec.settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner(spec: Sweep) -> optuna.pruners.BasePruner:
    """On each epoch's validation accuracy, as the trial reports it."""
    if spec.settings.pruner == "median":
        return optuna.pruners.MedianPruner()
    if spec.settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=spec.base.epochs)
    return optuna.pruners.NopPruner()


def distributions(spec: Sweep) -> dict[str, BaseDistribution]:
    """The space (sweep_config.py's syntax) as Optuna's distributions."""
    result: dict[str, BaseDistribution] = {}
    for key, value in spec.settings.space.items():
        ((kind, values),) = value.items()
        if kind == "choice":
            result[key] = CategoricalDistribution(values)
        elif kind.endswith("int"):
            result[key] = IntDistribution(values[0], values[1], log=kind == "log_int")
        else:
            result[key] = FloatDistribution(float(values[0]), float(values[1]), log=kind == "log_uniform")
    return result


def retry(study: optuna.Study, frozen: FrozenTrial) -> None:
    """A trial that lost its process, queued again with its values and its run folder (Optuna's
    retry callback; the folder's checkpoint lets it continue where it stopped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        RetryHeartbeatStaleTrialCallback(inherit_intermediate_values=True)(study, frozen)


def setting_changes(saved: dict[str, Any], spec: Sweep) -> list[str]:
    """What differs from the settings the sweep started with (sweep.yaml), by name."""
    now = settings_record(spec)
    changed = [key for key in FIXED if saved.get("sweep", {}).get(key) != now["sweep"][key]]
    if saved.get("train") != now["train"]:
        changed.append("training settings")
    return changed


def settings_record(spec: Sweep) -> dict[str, Any]:
    """sweep.yaml: the sweep's settings and the training config every trial starts from."""
    settings = {key: getattr(spec.settings, key) for key in (*FIXED, "trials", "workers", "storage")}
    return {"sweep": settings, "train": to_dict(spec.base)}
