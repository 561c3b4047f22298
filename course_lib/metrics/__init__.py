"""Evaluating generative models: the digits evaluator and a second judge (LeNet-5), FID, IS, KID,
precision/recall, density/coverage, the data-copying test and the classifier two-sample test, from
scratch; and verdicts on a change that both judges must agree on."""
from .compare import against_target, compare_samples, score_noise, verdict
from .leaderboard import format_leaderboard, load_leaderboard, record_to_leaderboard
from .classifier import accuracy, fit_classifier, predict
from .protocol import EvaluationResult, evaluate, extract, feature_distances, reference_features, reference_images
from .evaluator import DigitsEvaluator, load_digits_evaluator
from .frechet import feature_statistics, frechet_distance, frechet_terms
from .translation import colour_spread, score_translations, to_grey
from .scores import (classifier_two_sample_test, copying_verdict, data_copying_test, density_coverage, inception_score,
                     kernel_inception_distance, mmd2_unbiased, precision_recall)

__all__ = ["against_target", "compare_samples", "score_noise", "verdict", "accuracy", "fit_classifier", "predict", "EvaluationResult", "evaluate", "extract", "feature_distances",
           "reference_features", "reference_images",
           "colour_spread", "score_translations", "to_grey", "copying_verdict", "data_copying_test", "density_coverage", "format_leaderboard", "load_leaderboard",
           "record_to_leaderboard", "DigitsEvaluator", "load_digits_evaluator",
           "feature_statistics", "frechet_distance", "frechet_terms", "classifier_two_sample_test",
           "inception_score", "kernel_inception_distance", "mmd2_unbiased", "precision_recall"]
