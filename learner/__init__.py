"""Online learning of the specialist from verified results."""

from learner.train import Learner, LearnerConfig, TrainState, make_optimizer

__all__ = ["Learner", "LearnerConfig", "TrainState", "make_optimizer"]
