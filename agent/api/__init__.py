"""The OpenAI-compatible HTTP layer's pieces, kept apart (vLLM's entrypoints/openai layout):
protocol.py (request/response models), logic.py (request -> recommender -> response objects).
Routes live in serve.py."""
