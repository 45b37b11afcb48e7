"""vqr-analysis: China's vocational-education annual quality reports as a trustworthy, comparable dataset."""

__version__ = "0.1.0"
