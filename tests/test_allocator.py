"""The review's processes keep freed memory 5 s before handing it back (pipelines.ALLOCATOR_CONF):
set before polars is imported, after polars' own defaults so that it wins, and never over a value
the user set."""

import os
import subprocess
import sys

import pytest

from pipelines import ALLOCATOR_CONF

POLARS_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"
ENTRY_MODULES = ["pipelines.cli.commands", "pipelines.definitions"]  # the console script, `dagster dev`


def allocator_conf_after_import(module: str, user_value: str | None = None) -> str:
    """The jemalloc configuration polars hands its allocator in a new process that imports ``module``."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if user_value is not None:
        env["_RJEM_MALLOC_CONF"] = user_value
    code = f"import {module}, os, polars; print(os.environ['_RJEM_MALLOC_CONF'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.slow  # a subprocess or a Dagster run
@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_the_review_keeps_freed_memory_longer_than_polars_default(module):
    # jemalloc reads the options left to right, so the later decay times are the ones in force
    assert allocator_conf_after_import(module) == f"{POLARS_DEFAULT},{ALLOCATOR_CONF}"


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_an_allocator_setting_of_the_user_is_kept(module):
    conf = allocator_conf_after_import(module, user_value="dirty_decay_ms:0,muzzy_decay_ms:0")
    assert conf == f"{POLARS_DEFAULT},dirty_decay_ms:0,muzzy_decay_ms:0"
