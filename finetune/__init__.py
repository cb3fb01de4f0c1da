"""Fine-tuning (issue 5): LoRA/QLoRA adapters trained on interaction logs with the serving prompts."""
