"""Provider scores: peer comparison of each rendering NPI's billing and a risk rank (pure Polars).

Frames in, frames out: ``provider_scores`` (one row per rendering NPI per review period) and
``provider_metrics`` (the same metrics in long form with peer statistics). The risk formula and the
outlier rule are in ``pipelines.scores.score``; the peer statistics in ``pipelines.scores.peers``.
"""

from pipelines.scores.score import Scores, compute_scores, provider_metrics, provider_scores
from pipelines.scores.settings import ScoreSettings

__all__ = ["ScoreSettings", "Scores", "compute_scores", "provider_metrics", "provider_scores"]
