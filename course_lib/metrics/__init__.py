"""Evaluating generative models: the digits evaluator, FID, IS, KID, precision/recall and
the classifier two-sample test, computed from scratch."""
from .leaderboard import format_leaderboard, load_leaderboard, record_to_leaderboard
from .protocol import EvaluationResult, evaluate, extract
from .evaluator import DigitsEvaluator, load_digits_evaluator
from .frechet import feature_statistics, frechet_distance, frechet_terms
from .scores import (classifier_two_sample_test, inception_score, kernel_inception_distance,
                     mmd2_unbiased, precision_recall)

__all__ = ["EvaluationResult", "evaluate", "extract", "format_leaderboard", "load_leaderboard",
           "record_to_leaderboard", "DigitsEvaluator", "load_digits_evaluator",
           "feature_statistics", "frechet_distance", "frechet_terms", "classifier_two_sample_test",
           "inception_score", "kernel_inception_distance", "mmd2_unbiased", "precision_recall"]
