"""Sharing a model: the checkpoint folder, its model card, its zip, the Hub, warm starts."""
