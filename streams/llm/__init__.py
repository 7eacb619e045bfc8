"""LLM providers (vLLM/OpenAI-compatible, Anthropic) behind one fallback chain."""
