"""The model: the LSTM and its next-word distribution, the continuous cache, the unseen words' share, ensembles."""
