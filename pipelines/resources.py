"""Resources, configured in one place (``pipelines.definitions``)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from pipelines.config import Config, load_config


class ReviewSettings(ConfigurableResource):
    """Where extracts are read from and which configuration file applies."""

    input_path: str
    config_path: str | None = None

    def config(self) -> Config:
        return load_config(Path(self.config_path) if self.config_path else None)

    def input_root(self) -> Path:
        return Path(self.input_path)
