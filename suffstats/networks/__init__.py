"""Discrete structured models fitted exactly out of core from counts: Markov chains and Bayesian networks.

Both keep count tables as their statistics -- values that add exactly -- so a
model fitted from a memory-mapped file of category codes, in batches of any
size, is the model fitted in memory.
"""

from .bayesian_network import BayesianNetwork
from .markov_chain import MarkovChain

__all__ = ["BayesianNetwork", "MarkovChain"]
