"""The Engram model: config, layer, attachment to a Hugging Face LM, memorization."""
